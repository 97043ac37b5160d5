"""Validate a raw file against its declared columns and write the processed table.

The file is read as text cells (replication_ladder.data.readers: no inference, nothing
evaluated), so that every problem is reported with the file, the line (or row, or case)
and the column: a missing or duplicated column, text in a numeric column, an infinite
value, a level outside the declared ones, a truncated row, bytes that are not text.
Columns are renamed as the config says, categories get their declared (or labelled)
levels, the treatment becomes 0 (control) / 1 (treatment) by its contrast, and rows
missing a value in a `dropna` column are removed and counted.
"""

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from replication_ladder.base.atomic import write_json, write_parquet
from replication_ladder.data.columns import canonical_level, column_type, declared_levels
from replication_ladder.base.errors import DataError
from replication_ladder.base.hashing import sha256_file
from replication_ladder.data.readers import RawTable, read_table, show
from replication_ladder.data.sites import WITHIN_SHARE, treatment_design

log = logging.getLogger(__name__)

MISSING = frozenset({"", "NA", "N/A", "NaN", "nan", "NAN", "null", "NULL", "None", "."})


def parse_number(where: str, column: str, token: str, decimal: str) -> float:
    text = token.replace(",", ".") if decimal == "," else token
    try:
        value = float(text)
    except ValueError:
        hint = ""
        if (
            decimal == "."
            and "," in token
            and token.replace(",", ".", 1).replace(".", "", 1).lstrip("-").isdigit()
        ):
            hint = " (a decimal comma? set source.read.decimal: ',')"
        raise DataError(
            f"{where}: column {column!r}: {show(token)} is not a number{hint}"
        ) from None
    if math.isinf(value):
        raise DataError(f"{where}: column {column!r}: infinite value {show(token)}")
    return value


def _level_sort_key(level: str):
    try:
        return (0, float(level), level)
    except ValueError:
        return (1, 0.0, level)


def convert_column(
    path: Path,
    column: str,
    declared,
    tokens: list[str],
    locations: list[str],
    *,
    decimal: str = ".",
    missing_tokens: frozenset = MISSING,
    labels: dict[str, str] | None = None,
):
    """Parse one column's text cells as its declared type; (values, missing mask)."""
    kind = column_type(declared)
    stripped = [token.strip() for token in tokens]
    missing = np.array([token in missing_tokens for token in stripped])
    if kind in ("number", "integer", "binary"):
        values = np.full(len(tokens), np.nan)
        for i, (token, where) in enumerate(zip(stripped, locations, strict=True)):
            if missing[i]:
                continue
            value = parse_number(f"{path}: {where}", column, token, decimal)
            if kind == "integer" and not value.is_integer():
                raise DataError(
                    f"{path}: {where}: column {column!r}: {show(token)} is not a whole number"
                )
            if kind == "binary" and value not in (0.0, 1.0):
                raise DataError(f"{path}: {where}: column {column!r}: {show(token)} is not 0 or 1")
            values[i] = value
        return pd.Series(values, name=column), missing
    if kind == "category":
        if labels:  # SPSS/Stata value labels: the label names the level
            labelled = {canonical_level(code): label for code, label in labels.items()}
            stripped = [labelled.get(canonical_level(token), token) for token in stripped]
            order = list(dict.fromkeys(labelled.values()))
        else:
            order = None
        levels = [canonical_level(token) for token in stripped]
        present = {level for level, gone in zip(levels, missing, strict=True) if not gone}
        categories = declared_levels(declared)
        if categories is not None:
            for level, gone, where in zip(levels, missing, locations, strict=True):
                if not gone and level not in categories:
                    raise DataError(
                        f"{path}: {where}: column {column!r}: level {show(level)} is not "
                        f"among the declared levels ({', '.join(categories)})"
                    )
        elif order is not None:
            categories = [level for level in order if level in present]
            categories += sorted(present - set(categories), key=_level_sort_key)
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


def _renamed(raw: RawTable, rename: dict) -> tuple[list[str], dict[str, str]]:
    """The header under the models' names, and each model name's column in the file."""
    header = [rename.get(name, name) for name in raw.header]
    seen: dict[str, str] = {}
    for original, name in zip(raw.header, header, strict=True):
        if name in seen:
            raise DataError(
                f"{raw.path}: columns {seen[name]!r} and {original!r} would both be named "
                f"{name!r} after rename"
            )
        seen[name] = original
    return header, seen


def _missing_column_error(raw: RawTable, column: str, spec: dict) -> DataError:
    original = next((o for o, n in spec["rename"].items() if n == column), column)
    named = f"{column!r}" if original == column else f"{original!r} (renamed to {column!r})"
    return DataError(
        f"{raw.path}: missing column {named} (the header has: {', '.join(raw.header)})"
    )


def _treatment_codes(
    path: Path, table: pd.DataFrame, spec: dict, locations: list[str]
) -> tuple[pd.Series, dict]:
    """The treatment as 0 (control) and 1 (treatment) by the configured contrast."""
    treatment, (control, treated) = spec["treatment"], spec["contrast"]
    values = table[treatment]
    as_text = values.astype("object").map(lambda v: None if pd.isna(v) else canonical_level(v))
    control, treated = canonical_level(control), canonical_level(treated)
    codes = pd.Series(np.where(as_text == treated, 1.0, 0.0), index=table.index)
    codes[as_text.isna()] = np.nan
    other = as_text.notna() & ~as_text.isin([control, treated])
    if other.any():
        first = int(np.flatnonzero(other.to_numpy())[0])
        raise DataError(
            f"{path}: {locations[first]}: column {treatment!r} (the treatment): level "
            f"{show(as_text.iloc[first])} is neither the control {control!r} nor the treatment "
            f"{treated!r} of replication.contrast"
        )
    return codes, {"column": treatment, "control": control, "treatment": treated}


def process(raw_path: str | Path, spec: dict) -> tuple[pd.DataFrame, dict]:
    """Validate and clean a raw file; return the table and its processing record."""
    raw_path = Path(raw_path)
    read = spec.get("read") or {}
    raw = read_table(raw_path, spec["format"], read)
    header, original = _renamed(raw, spec["rename"])
    columns = spec["columns"]
    for column in columns:
        if column not in header:
            raise _missing_column_error(raw, column, spec)
    missing_tokens = MISSING | frozenset(read.get("na_values", ()))
    converted, missing = {}, {}
    for column, declared in columns.items():
        source_name = original[column]
        converted[column], missing[column] = convert_column(
            raw_path,
            column,
            declared,
            raw.cells[source_name],
            raw.locations,
            decimal=read.get("decimal", "."),
            missing_tokens=missing_tokens,
            labels=raw.value_labels.get(source_name),
        )
    drop = np.zeros(len(raw), dtype=bool)
    for column in spec["dropna"]:
        drop |= missing[column]
    removed_by_column = {column: int(missing[column].sum()) for column in spec["dropna"]}
    filtered = filtered_out(converted, spec.get("filter") or {})
    for column, out in filtered.items():
        removed_by_column[f"{column} not in filter"] = int((out & ~drop).sum())
        drop |= out
    keep = ~drop
    if not keep.any():
        raise DataError(
            f"{raw_path}: no rows left after removing rows with missing values in "
            f"{', '.join(spec['dropna'])} (missing per column: {removed_by_column})"
        )
    kept_locations = [where for where, kept in zip(raw.locations, keep, strict=True) if kept]
    table = pd.DataFrame(
        {
            column: _finish_dtype(series[keep].reset_index(drop=True), columns[column])
            for column, series in converted.items()
        }
    )
    if spec.get("site") and spec.get("participant"):
        table[spec["participant"]] = nested_participants(table, spec["site"], spec["participant"])
    contrast = None
    if spec.get("treatment") is not None:
        codes, contrast = _treatment_codes(raw_path, table, spec, kept_locations)
        table[spec["treatment"]] = codes.astype("int64") if not codes.isna().any() else codes
    warnings = _check_design(raw_path, table, spec)
    record = {
        **source_record(raw_path, spec, warnings),
        "rows_raw": len(raw),
        "rows_kept": int(keep.sum()),
        "rows_removed": int(drop.sum()),
        "removed_by_column": removed_by_column,
        "dropna": spec["dropna"],
        "renamed": {o: n for o, n in spec["rename"].items() if o in raw.header},
        "columns": {column: column_type(declared) for column, declared in columns.items()},
        "ignored_columns": [name for name in header if name not in columns],
        "missing_kept": {
            column: int(table[column].isna().sum())
            for column in table
            if table[column].isna().any()
        },
        "contrast": contrast,
        "sites": int(table[spec["site"]].nunique()) if spec["site"] else None,
        # In order: leave-one-site-out and reports use positions, never labels, in paths,
        # so that no text from a data file becomes part of a path.
        "site_levels": [str(level) for level in table[spec["site"]].cat.categories]
        if spec["site"]
        else None,
        "participants": _participants(table, spec),
        "treatment_design": _treatment_design(table, spec),
        "warnings": warnings,
    }
    return table, record


def filtered_out(converted: dict, kept_levels: dict) -> dict[str, np.ndarray]:
    """Per column of the `filter`, the rows whose value is none of its listed ones (rows
    that are not part of the analysis: practice trials, another task)."""
    out = {}
    for column, levels in kept_levels.items():
        wanted = {canonical_level(level) for level in levels}
        values = converted[column].astype("object")
        as_text = values.map(lambda v: None if pd.isna(v) else canonical_level(v))
        out[column] = ~as_text.isin(wanted).to_numpy()
    return out


def source_record(raw_path: Path, spec: dict, warnings: list[str]) -> dict:
    """What a processing record says of the raw file; an unpinned one adds a warning."""
    raw_sha256 = sha256_file(raw_path)
    if not spec.get("pinned", True):
        warnings.append(
            f"the source file has no sha256 in the config: this run is not pinned to its "
            f"contents (sha256 {raw_sha256})"
        )
    return {
        "dataset": spec["dataset"],
        "raw_file": str(raw_path),
        "raw_sha256": raw_sha256,
        "raw_format": spec["format"],
        "pinned": spec.get("pinned", True),
    }


def nested_participants(table: pd.DataFrame, site: str, participant: str) -> pd.Series:
    """Participant labels made unique across sites (`site:participant`), with only the
    pairs that occur as levels. A formula's `(1|participant)` then has one intercept per
    participant; formulae's `(1|site:participant)` would make every pair of a site and a
    participant label a level (3,213 for the RRR's 1,728 participants), the rest fitted
    to the prior alone."""
    known = table[site].notna() & table[participant].notna()
    labels = table[site].astype(str) + ":" + table[participant].astype(str)
    # Levels in the order of the sorted (site, participant) pairs: each pair's first row.
    firsts = table.loc[known, [site, participant]].drop_duplicates()
    levels = labels[firsts.sort_values([site, participant]).index].tolist()
    return pd.Series(pd.Categorical(labels.where(known), categories=levels), name=participant)


def _participants(table: pd.DataFrame, spec: dict) -> int | None:
    participant = spec.get("participant")
    if participant is None:
        return None
    keys = [spec["site"], participant] if spec["site"] else [participant]
    return int(table.groupby(keys, observed=True).ngroups)


def _treatment_design(table: pd.DataFrame, spec: dict) -> str | None:
    """The treatment's design, declared or read from the data (sites.treatment_design)."""
    treatment = spec.get("treatment")
    if treatment is None:
        return None
    design = spec.get("design") or {}
    for kind in ("within", "between"):
        if treatment in design.get(kind, []):
            return kind
    return treatment_design(table, spec.get("participant"), treatment, spec.get("site"))


def _check_design(path: Path, table: pd.DataFrame, spec: dict) -> list[str]:
    """Problems of design, not of format: fatal ones raise, the rest are recorded."""
    warnings = []
    treatment = spec.get("treatment")
    if treatment is not None:
        levels = table[treatment].dropna().unique()
        if len(levels) < 2:
            raise DataError(
                f"{path}: column {treatment!r} (the treatment) has a single level "
                f"{levels[0]!r} after removing missing rows: there is nothing to compare"
            )
    _check_declared_design(path, table, spec)
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


def _check_declared_design(path: Path, table: pd.DataFrame, spec: dict) -> None:
    """Each column the config declares within participants varies within most of them;
    each declared between them never does. Every fault is named at once."""
    design, participant = spec.get("design") or {}, spec.get("participant")
    declared = [(c, "within") for c in design.get("within", [])]
    declared += [(c, "between") for c in design.get("between", [])]
    if not declared:
        return
    keys = [spec["site"], participant] if spec.get("site") else [participant]
    faults = []
    for column, kind in declared:
        varies = table.groupby(keys, observed=True)[column].nunique() > 1
        share = float(varies.mean())
        if kind == "within" and share < WITHIN_SHARE:
            faults.append(
                f"{column!r} is declared within participants but varies within "
                f"{100 * share:.0f}% of them"
            )
        if kind == "between" and share > 0:
            faults.append(
                f"{column!r} is declared between participants but {int(varies.sum())} of "
                "them have more than one of its values"
            )
    if faults:
        raise DataError(
            f"{path}: the design (datasets.{spec['dataset']}.design) does not hold: "
            + "; ".join(faults)
        )
