"""Validate a raw CSV against its declared columns and write the processed table.

The file is decoded strictly as UTF-8 and parsed with the csv module (no pandas
inference, no code evaluation), so every problem is reported with the file, the line and
the column: a missing or duplicated column, text in a numeric column, an infinite value,
a level outside the declared ones, a truncated row, bytes that are not text.
Rows missing a value in a `dropna` column are removed and counted.
"""

import csv
import io
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from replication_ladder.atomic import write_json, write_parquet
from replication_ladder.config import column_type
from replication_ladder.errors import DataError
from replication_ladder.fetch import sha256_file

log = logging.getLogger(__name__)

MISSING = frozenset({"", "NA", "N/A", "NaN", "nan", "NAN", "null", "NULL", "None"})
MAX_FIELD_CHARS = 131072  # csv's own limit: a longer field is refused, never a hang
SHOWN_CHARS = 40


def _show(token: str) -> str:
    return repr(token if len(token) <= SHOWN_CHARS else token[:SHOWN_CHARS] + "...")


def _decode(path: Path, raw: bytes) -> str:
    if not raw.strip():
        raise DataError(f"{path}: the file is empty")
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise DataError(f"{path}: line {line}: binary data (a NUL byte); this is not a CSV file")
    try:
        return raw.decode("utf-8-sig")  # a leading byte order mark is dropped
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        bad = raw[error.start : error.start + 4]
        raise DataError(
            f"{path}: line {line}: bytes that are not UTF-8 ({bad!r} at byte {error.start})"
        ) from None


def read_csv_records(path: str | Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the data records of a CSV file, each with its line number."""
    path = Path(path)
    text = _decode(path, path.read_bytes())
    csv.field_size_limit(MAX_FIELD_CHARS)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records = []
    try:
        header = next(reader)
        for record in reader:
            if record:  # blank lines carry no row
                records.append((reader.line_num, record))
    except csv.Error as error:
        message = str(error)
        if "field larger than field limit" in message:
            message = f"a field is longer than {MAX_FIELD_CHARS} characters"
        raise DataError(f"{path}: line {reader.line_num}: malformed CSV: {message}") from None
    _check_header(path, header)
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
    return header, records


def _check_header(path: Path, header: list[str]) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if not name.strip():
            raise DataError(f"{path}: line 1: column {position} of the header has no name")
        if name in seen:
            raise DataError(
                f"{path}: line 1: duplicate column name {name!r} "
                f"(columns {seen[name]} and {position})"
            )
        seen[name] = position


def _missing_column_error(path: Path, column: str, header: list[str]) -> DataError:
    message = f"{path}: missing column {column!r} (the header has: {', '.join(header)})"
    if len(header) == 1:
        for delimiter, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if delimiter in header[0]:
                message += (
                    f"; the header is one field holding {name}s: the file must be comma-separated"
                )
                break
    return DataError(message)


def _parse_number(path: Path, column: str, line: int, token: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise DataError(
            f"{path}: line {line}: column {column!r}: {_show(token)} is not a number"
        ) from None
    if math.isinf(value):
        raise DataError(f"{path}: line {line}: column {column!r}: infinite value {_show(token)}")
    return value


def _canonical_level(token: str) -> str:
    """Whole numbers written as floats (`3.0`) name the same level as `3`."""
    try:
        value = float(token)
    except ValueError:
        return token
    return str(int(value)) if math.isfinite(value) and value.is_integer() else token


def _level_sort_key(level: str):
    try:
        return (0, float(level), level)
    except ValueError:
        return (1, 0.0, level)


def convert_column(path: Path, column: str, declared, tokens: list[str], lines: list[int]):
    """Parse one column's tokens as its declared type; (values, missing mask)."""
    kind = column_type(declared)
    missing = np.array([token.strip() in MISSING for token in tokens])
    if kind in ("number", "integer", "binary"):
        values = np.full(len(tokens), np.nan)
        for i, (token, line) in enumerate(zip(tokens, lines, strict=True)):
            if missing[i]:
                continue
            value = _parse_number(path, column, line, token.strip())
            if kind == "integer" and not value.is_integer():
                raise DataError(
                    f"{path}: line {line}: column {column!r}: {_show(token)} is not a whole number"
                )
            if kind == "binary" and value not in (0.0, 1.0):
                raise DataError(
                    f"{path}: line {line}: column {column!r}: {_show(token)} is not 0 or 1"
                )
            values[i] = value
        return pd.Series(values, name=column), missing
    if kind == "category":
        levels = [_canonical_level(token.strip()) for token in tokens]
        present = {level for level, gone in zip(levels, missing, strict=True) if not gone}
        if isinstance(declared, dict):
            categories = [_canonical_level(str(level)) for level in declared["levels"]]
            for level, gone, line in zip(levels, missing, lines, strict=True):
                if not gone and level not in categories:
                    raise DataError(
                        f"{path}: line {line}: column {column!r}: level {_show(level)} is not "
                        f"among the declared levels ({', '.join(categories)})"
                    )
        else:
            categories = sorted(present, key=_level_sort_key)
        values = [None if gone else level for level, gone in zip(levels, missing, strict=True)]
        return pd.Series(pd.Categorical(values, categories=categories), name=column), missing
    # string
    values = [None if gone else token for token, gone in zip(tokens, missing, strict=True)]
    return pd.Series(values, dtype="str", name=column), missing


def _finish_dtype(series: pd.Series, declared) -> pd.Series:
    kind = column_type(declared)
    if kind in ("integer", "binary") and not series.isna().any():
        return series.astype("int64")
    if kind == "category" and not isinstance(declared, dict):
        return series.cat.remove_unused_categories()
    return series


def process(raw_path: str | Path, spec: dict) -> tuple[pd.DataFrame, dict]:
    """Validate and clean a raw file; return the table and its processing record."""
    raw_path = Path(raw_path)
    header, records = read_csv_records(raw_path)
    columns = spec["columns"]
    for column in columns:
        if column not in header:
            raise _missing_column_error(raw_path, column, header)
    lines = [line for line, _ in records]
    converted, missing = {}, {}
    for column, declared in columns.items():
        position = header.index(column)
        tokens = [record[position] for _, record in records]
        converted[column], missing[column] = convert_column(
            raw_path, column, declared, tokens, lines
        )

    drop = np.zeros(len(records), dtype=bool)
    for column in spec["dropna"]:
        drop |= missing[column]
    removed_by_column = {column: int(missing[column].sum()) for column in spec["dropna"]}
    keep = ~drop
    if not keep.any():
        raise DataError(
            f"{raw_path}: no rows left after removing rows with missing values in "
            f"{', '.join(spec['dropna'])} (missing per column: {removed_by_column})"
        )
    table = pd.DataFrame(
        {
            column: _finish_dtype(series[keep].reset_index(drop=True), columns[column])
            for column, series in converted.items()
        }
    )
    warnings = _check_design(raw_path, table, spec)
    record = {
        "dataset": spec["dataset"],
        "raw_file": str(raw_path),
        "raw_sha256": sha256_file(raw_path),
        "rows_raw": len(records),
        "rows_kept": int(keep.sum()),
        "rows_removed": int(drop.sum()),
        "removed_by_column": removed_by_column,
        "dropna": spec["dropna"],
        "columns": {column: column_type(declared) for column, declared in columns.items()},
        "ignored_columns": [column for column in header if column not in columns],
        "missing_kept": {
            column: int(table[column].isna().sum())
            for column in table
            if table[column].isna().any()
        },
        "sites": int(table[spec["site"]].nunique()) if spec["site"] else None,
        # In order: leave-one-site-out names its refits by position, never by label, so
        # that no text from a data file becomes part of a path.
        "site_levels": [str(level) for level in table[spec["site"]].cat.categories]
        if spec["site"]
        else None,
        "warnings": warnings,
    }
    return table, record


def _check_design(path: Path, table: pd.DataFrame, spec: dict) -> list[str]:
    """Problems of design, not of format: fatal ones raise, the rest are recorded."""
    warnings = []
    treatment = spec["treatment"]
    if treatment is not None:
        levels = table[treatment].dropna().unique()
        if len(levels) < 2:
            raise DataError(
                f"{path}: column {treatment!r} (the treatment) has a single level "
                f"{levels[0]!r} after removing missing rows: there is nothing to compare"
            )
    site = spec["site"]
    if site is not None:
        counts = table[site].value_counts()
        small = sorted(str(level) for level, count in counts.items() if count < 2)
        if small:
            warnings.append(f"sites with a single row in {site!r}: {', '.join(small)}")
    for column in table:
        if table[column].isna().all():
            warnings.append(f"column {column!r} has no values (all missing)")
    for warning in warnings:
        log.warning("%s: %s", path, warning)
    return warnings


def write_processed(raw_path, spec: dict, table_path, record_path) -> dict:
    """Validate `raw_path` and write the table and its record; nothing on error."""
    table, record = process(raw_path, spec)
    write_parquet(table_path, table)
    record["processed_sha256"] = sha256_file(table_path)
    write_json(record_path, record)
    return record


def main(snakemake) -> None:
    record = write_processed(
        snakemake.input.raw, snakemake.params.spec, snakemake.output.table, snakemake.output.record
    )
    log.info(
        "%s: kept %d of %d rows (removed %d: %s)",
        record["dataset"],
        record["rows_kept"],
        record["rows_raw"],
        record["rows_removed"],
        record["removed_by_column"],
    )
