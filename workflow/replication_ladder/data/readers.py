"""Read the formats replication studies publish into one shape: a header, each column's
cells as text, and where each row sits in the file (for error messages).

  csv, tsv, txt   the csv module (no inference, nothing evaluated), with `sep`,
                  `encoding`, `skiprows`; decimal commas are handled by validation
  xlsx            openpyxl, read-only, cell values (a `sheet` by name or position)
  sav, dta        pyreadstat; value labels are kept beside the codes, so a category
                  column gets its labels as levels, in the order of their codes
  parquet         pyarrow

The type comes from the file's extension, or `source.read.format`.
"""

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from replication_ladder.base.errors import DataError

FORMATS = ("csv", "tsv", "txt", "xlsx", "sav", "dta", "parquet")
DEFAULT_SEP = {"csv": ",", "tsv": "\t"}
SNIFFED_SEPS = ",;\t|"
MAX_FIELD_CHARS = 131072  # csv's own limit: a longer field is refused, never a hang
SHOWN_CHARS = 40


def source_format(source: dict) -> str:
    """A file source's format: `read.format`, else its extension (ValueError if neither)."""
    declared = (source.get("read") or {}).get("format")
    if declared:
        return declared
    name = source.get("path") or PurePosixPath(unquote(urlparse(source["url"]).path)).name
    extension = PurePosixPath(name).suffix.lower().lstrip(".")
    if extension not in FORMATS:
        raise ValueError(f"cannot tell the format of {name!r} from its extension")
    return extension


@dataclass
class RawTable:
    """A file's content before any type is applied."""

    path: Path
    header: list[str]
    cells: dict[str, list[str]]  # column -> one text per row ("" when empty)
    locations: list[str]  # "line 5", "row 7 of sheet 'data'", "case 12"
    value_labels: dict[str, dict[str, str]] = field(default_factory=dict)  # code -> label

    def __len__(self) -> int:
        return len(self.locations)


def show(token: str) -> str:
    return repr(token if len(token) <= SHOWN_CHARS else token[:SHOWN_CHARS] + "...")


def _text_cell(value) -> str:
    """A typed cell (Excel, SPSS, Stata, Parquet) as the text a CSV would hold."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return repr(value)
    if isinstance(value, bool):
        return str(int(value))
    return str(value)


def _check_header(path: Path, header: list[str], where: str, read: dict) -> list[str]:
    """The header's names. Strict (the default): an unnamed or repeated name is an error.
    `read.headers: tidy`, for exports of meta-analysis software: names lose surrounding
    spaces, an unnamed column is called `column N` (its position), and a repeated name
    gets its occurrence, as pandas does (`Std Err`, `Std Err.1`, `Std Err.2`)."""
    if read.get("headers", "strict") == "tidy":
        names, seen = [], {}
        for position, name in enumerate(header, start=1):
            name = str(name).strip() or f"column {position}"
            count = seen.get(name, 0)
            seen[name] = count + 1
            names.append(f"{name}.{count}" if count else name)
        return names
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if not str(name).strip():
            raise DataError(f"{path}: {where}: column {position} of the header has no name")
        if name in seen:
            raise DataError(
                f"{path}: {where}: duplicate column name {name!r} "
                f"(columns {seen[name]} and {position}); an export with repeated names can "
                "be read with source.read.headers: tidy"
            )
        seen[name] = position
    return list(header)


# -- text ------------------------------------------------------------------------------------


def _decode(path: Path, raw: bytes, encoding: str) -> str:
    if not raw.strip():
        raise DataError(f"{path}: the file is empty")
    nul = raw.find(b"\x00")
    if nul >= 0 and not encoding.lower().startswith("utf-16"):
        line = raw.count(b"\n", 0, nul) + 1
        raise DataError(f"{path}: line {line}: binary data (a NUL byte); this is not a text file")
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return raw.decode(codec)  # a leading byte order mark is dropped
    except LookupError:
        raise DataError(f"{path}: unknown encoding {encoding!r} (source.read.encoding)") from None
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        bad = raw[error.start : error.start + 4]
        raise DataError(
            f"{path}: line {line}: bytes that are not {encoding} ({bad!r} at byte "
            f"{error.start}); set source.read.encoding (for example latin-1 or cp1252)"
        ) from None


def _sniff(text: str, fmt: str) -> str:
    if fmt in DEFAULT_SEP:
        return DEFAULT_SEP[fmt]
    first = text.split("\n", 1)[0]
    counts = {sep: first.count(sep) for sep in SNIFFED_SEPS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


DELIMITER_NAMES = {";": "semicolons", "\t": "tabs", "|": "pipes", ",": "commas"}


def _check_delimiter(path: Path, header: list[str], sep: str, line: int) -> None:
    """A header that is one field holding another delimiter: say which to set."""
    if len(header) != 1:
        return
    for delimiter, name in DELIMITER_NAMES.items():
        if delimiter != sep and delimiter in header[0]:
            shown = "\\t" if delimiter == "\t" else delimiter
            raise DataError(
                f"{path}: line {line}: the header is one field holding {name}: the file is "
                f"not separated by {sep!r}; set source.read.sep: '{shown}'"
            )


def read_text(path: Path, fmt: str, read: dict) -> RawTable:
    encoding = read.get("encoding", "utf-8")
    text = _decode(path, path.read_bytes(), encoding)
    skip = read.get("skiprows", 0)
    sep = read.get("sep") or _sniff(text.split("\n", skip)[-1] if skip else text, fmt)
    csv.field_size_limit(MAX_FIELD_CHARS)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    records = []
    try:
        for _ in range(skip):
            next(reader)
        header = next(reader)
        for record in reader:
            if record:  # blank lines carry no row
                records.append((reader.line_num, record))
    except StopIteration:
        raise DataError(f"{path}: no header after skipping {skip} lines") from None
    except csv.Error as error:
        message = str(error)
        if "field larger than field limit" in message:
            message = f"a field is longer than {MAX_FIELD_CHARS} characters"
        raise DataError(f"{path}: line {reader.line_num}: malformed CSV: {message}") from None
    header_line = skip + 1
    _check_delimiter(path, header, sep, header_line)
    header = _check_header(path, header, f"line {header_line}", read)
    if not records:
        raise DataError(f"{path}: the header has no data rows below it")
    width = len(header)
    for line, record in records:
        if len(record) != width:
            hint = " (truncated file?)" if len(record) < width else ""
            raise DataError(
                f"{path}: line {line}: expected {width} fields as in the header, "
                f"found {len(record)}{hint}"
            )
    cells = {name: [record[i] for _, record in records] for i, name in enumerate(header)}
    return RawTable(path, header, cells, [f"line {line}" for line, _ in records])


# -- spreadsheets and statistics packages ---------------------------------------------------


def read_xlsx(path: Path, read: dict) -> RawTable:
    import zipfile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as error:
        raise DataError(f"{path}: not a readable .xlsx workbook ({error})") from None
    try:
        sheet_key = read.get("sheet", 0)
        names = workbook.sheetnames
        if isinstance(sheet_key, int):
            if not 0 <= sheet_key < len(names):
                raise DataError(
                    f"{path}: sheet {sheet_key} does not exist (sheets: {', '.join(names)}); "
                    "source.read.sheet counts from 0"
                )
            name = names[sheet_key]
        elif sheet_key in names:
            name = sheet_key
        else:
            raise DataError(f"{path}: no sheet named {sheet_key!r} (sheets: {', '.join(names)})")
        rows = list(workbook[name].iter_rows(values_only=True))
    finally:
        workbook.close()
    skip = read.get("skiprows", 0)
    where = f"sheet {name!r}"
    numbered = [(number, row) for number, row in enumerate(rows, start=1) if number > skip]
    numbered = [(n, row) for n, row in numbered if any(v not in (None, "") for v in row)]
    if not numbered:
        raise DataError(f"{path}: {where} is empty")
    (header_row, header), *body = numbered
    header = [_text_cell(v) for v in header]
    while header and header[-1] == "":  # unused columns to the right
        header.pop()
    header = _check_header(path, header, f"row {header_row} of {where}", read)
    if not body:
        raise DataError(f"{path}: {where} has no data rows below its header")
    cells = {
        column: [_text_cell(row[i]) if i < len(row) else "" for _, row in body]
        for i, column in enumerate(header)
    }
    return RawTable(path, header, cells, [f"row {n} of {where}" for n, _ in body])


def read_stat(path: Path, fmt: str, read: dict) -> RawTable:
    import pyreadstat

    reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    options = {"encoding": read["encoding"]} if "encoding" in read else {}
    try:
        frame, meta = reader(str(path), apply_value_formats=False, **options)
    except Exception as error:  # pyreadstat raises its own ReadstatError and others
        kind = {"sav": "SPSS .sav", "dta": "Stata .dta"}[fmt]
        raise DataError(f"{path}: not a readable {kind} file ({error})") from None
    header = [str(column) for column in frame.columns]
    header = _check_header(path, header, "the header", read)
    cells = {
        column: [_text_cell(v) for v in frame.iloc[:, i].tolist()]
        for i, column in enumerate(header)
    }
    labels = {
        str(column): {
            _text_cell(_as_number(code)): str(label) for code, label in sorted(mapping.items())
        }
        for column, mapping in (meta.variable_value_labels or {}).items()
    }
    skip = read.get("skiprows", 0)
    if skip:
        cells = {column: values[skip:] for column, values in cells.items()}
    return RawTable(
        path, header, cells, [f"case {i}" for i in range(skip + 1, len(frame) + 1)], labels
    )


def _as_number(code):
    try:
        return float(code)
    except (TypeError, ValueError):
        return code


def read_parquet(path: Path, read: dict) -> RawTable:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow's errors are many
        raise DataError(f"{path}: not a readable Parquet file ({error})") from None
    header = [str(name) for name in table.column_names]
    header = _check_header(path, header, "the header", read)
    cells = {
        name: [_text_cell(v) for v in table.column(i).to_pylist()] for i, name in enumerate(header)
    }
    skip = read.get("skiprows", 0)
    cells = {column: values[skip:] for column, values in cells.items()}
    return RawTable(path, header, cells, [f"row {i}" for i in range(skip + 1, table.num_rows + 1)])


def read_table(path: str | Path, fmt: str, read: dict | None = None) -> RawTable:
    """A raw file of any supported format, as text cells with their locations."""
    path, read = Path(path), read or {}
    if fmt in ("csv", "tsv", "txt"):
        table = read_text(path, fmt, read)
    elif fmt == "xlsx":
        table = read_xlsx(path, read)
    elif fmt in ("sav", "dta"):
        table = read_stat(path, fmt, read)
    elif fmt == "parquet":
        table = read_parquet(path, read)
    else:
        raise DataError(f"{path}: unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    if not len(table):
        raise DataError(f"{path}: no data rows")
    return table
