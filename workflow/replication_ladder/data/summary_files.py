"""Read a summary-level file, one row per site, into the table of per-site effects that
the trial-level route writes too (replication_ladder.data.sites.COLUMNS).

`datasets.<name>.summary` names the file's columns in one of these forms:

  arms      treatment: {mean, sd, n} and control: {mean, sd, n}
  counts    treatment: {events, n} and control: {events, n} (logOR or logRR)
  effect    effect and se: an effect already in the dataset's unit (effect_size)
  variance  effect and variance (se = its square root)
  interval  effect, lower and upper: its 95% interval (se = its width / 2 z_.975)
  t         t, n_treatment and n_control: a two-sample t (standardized units only)
  F         F, sign, n_treatment and n_control: the F(1, n - 2) of the two arms, which is
            t squared, with its sign (+1 where the treatment's mean is the higher, -1
            otherwise) from a column of its own, as an F has none

Exports of meta-analysis software are read as they come (with `read.headers: tidy`,
which the scaffold writes): names with trailing spaces or repeated, empty columns,
numbers like 1.83E-02, non-ASCII site names. Rows that are not sites are left out and
recorded: blank rows, and a footer whose site cell is empty or starts with "total",
"overall", "pooled", "combined", "summary" or "average". A site with a missing or
impossible number is an error naming its row and column.
"""

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from replication_ladder.data import effect_sizes
from replication_ladder.base.errors import DataError
from replication_ladder.data.readers import read_table, show
from replication_ladder.data.sites import ARM_COLUMNS, COLUMNS
from replication_ladder.data.validation import MISSING, parse_number, source_record

log = logging.getLogger(__name__)

FOOTER = re.compile(r"^\s*(total|overall|pooled|combined|summary|average|all\b)", re.IGNORECASE)
ARMS = {"treatment": "treatment", "control": "control"}
STATISTICS = ("mean", "sd", "n", "events")
Z_975 = 1.959963984540054  # a 95% interval's half width in standard errors


# The forms of a `summary` block, by what each needs.
SUMMARY_FORMS = {
    "counts": lambda summary: "events" in summary.get("treatment", {}),
    "arms": lambda summary: "treatment" in summary and "control" in summary,
    "effect": lambda summary: "effect" in summary and "se" in summary,
    "variance": lambda summary: "effect" in summary and "variance" in summary,
    "interval": lambda summary: {"effect", "lower", "upper"} <= set(summary),
    "t": lambda summary: {"t", "n_treatment", "n_control"} <= set(summary),
    "F": lambda summary: {"F", "sign", "n_treatment", "n_control"} <= set(summary),
}
STATISTIC_KEYS = ("effect", "se", "variance", "lower", "upper", "t", "F", "sign")


def summary_form(summary: dict) -> str:
    """Which of the three forms the `summary` block takes."""
    return next(form for form, has in SUMMARY_FORMS.items() if has(summary))


def named_columns(summary: dict) -> dict[str, str]:
    """{role: the file's column} for every column the block names, e.g.
    {"mean_treatment": "M teeth", "se": "Std Err.2"}."""
    roles = {"site": summary["site"]}
    for arm in ARMS:
        for statistic in STATISTICS:
            if statistic in summary.get(arm, {}):
                roles[f"{statistic}_{arm}"] = summary[arm][statistic]
    for key in (*STATISTIC_KEYS, "n_treatment", "n_control"):
        if key in summary:
            roles[key] = summary[key]
    return roles


def site_rows(raw, site_column: str) -> tuple[list[int], list[str]]:
    """Positions of the rows that are sites, and the locations of those left out."""
    kept, left_out = [], []
    for i, location in enumerate(raw.locations):
        cells = [raw.cells[column][i].strip() for column in raw.header]
        site = raw.cells[site_column][i].strip()
        if not any(cells):
            continue
        if not site or FOOTER.match(site):
            left_out.append(f"{location} ({show(site) if site else 'no site'})")
            continue
        kept.append(i)
    return kept, left_out


def _numbers(raw, rows: list[int], roles: dict, role: str, decimal: str, faults: list):
    """The numbers of one named column at the site rows (NaN where a cell is at fault);
    each fault, naming row, column and site, is added to `faults`."""
    column, values = roles[role], []
    for i in rows:
        token = raw.cells[column][i].strip()
        where = f"{raw.path}: {raw.locations[i]}"
        fault = _cell_fault(where, column, role, token, decimal, raw.cells[roles["site"]][i])
        if fault:
            faults.append(fault)
            values.append(np.nan)
        else:
            values.append(parse_number(where, column, token, decimal))
    return np.asarray(values, dtype=float)


def _cell_fault(where: str, column: str, role: str, token: str, decimal: str, site: str):
    """What is wrong with one cell, or None."""
    if token in MISSING:
        return f"{where}: column {column!r} ({role}) is empty for site {show(site.strip())}"
    try:
        value = parse_number(where, column, token, decimal)
    except DataError as error:
        return str(error)
    positive = role.startswith(("sd_", "n_")) or role in ("se", "variance")
    if positive and value <= 0:
        return f"{where}: column {column!r} ({role}) must be positive: {show(token)}"
    if role.startswith(("n_", "events_")) and value != int(value):
        return f"{where}: column {column!r} ({role}) is a count: {show(token)}"
    if role == "F" and value < 0:
        return f"{where}: column {column!r} (F) cannot be negative: {show(token)}"
    if role == "sign" and value not in (-1, 1):
        return f"{where}: column {column!r} (sign) must be 1 or -1: {show(token)}"
    return None


def _refuse(faults: list[str]) -> None:
    """Every fault of a file at once (the first 20 in full)."""
    if faults:
        more = f"\n  ... and {len(faults) - 20} more" if len(faults) > 20 else ""
        raise DataError(
            f"{len(faults)} problem(s) in the file:\n  " + "\n  ".join(faults[:20]) + more
        )


def site_table(raw, summary: dict, unit: str, decimal: str = ".") -> tuple[pd.DataFrame, list]:
    """The per-site table (sites.COLUMNS) of a raw summary file, and the rows left out."""
    roles = named_columns(summary)
    _refuse(
        [
            f"{raw.path}: missing column {column!r} (summary: {role}); the header has: "
            f"{', '.join(raw.header)}"
            for role, column in roles.items()
            if column not in raw.header
        ]
    )
    rows, left_out = site_rows(raw, roles["site"])
    if len(rows) < 2:
        raise DataError(f"{raw.path}: {len(rows)} site row(s): a meta-analysis needs 2 or more")
    sites = [raw.cells[roles["site"]][i].strip() for i in rows]
    repeated = sorted({s for s in sites if sites.count(s) > 1})
    if repeated:
        raise DataError(f"{raw.path}: column {roles['site']!r}: site {repeated[0]!r} is repeated")
    faults: list[str] = []
    values = {
        role: _numbers(raw, rows, roles, role, decimal, faults) for role in roles if role != "site"
    }
    _refuse(faults)
    table = pd.DataFrame({"site": sites})
    for role in ARM_COLUMNS:
        table[role] = values.get(role, np.full(len(rows), np.nan))
    table["effect"], table["se"] = site_effects(summary_form(summary), values, unit)
    table["outcome_sd"] = outcome_sd(table)
    table["design"] = "between"
    table["correlation"] = np.nan
    table["site"] = pd.Categorical(table["site"], categories=sites)
    return table[COLUMNS], left_out


def site_effects(form: str, values: dict, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Each site's effect and standard error, from the columns of its form."""
    if form == "arms":
        arms = [values[f"{s}_{arm}"] for arm in ARMS for s in ("mean", "sd", "n")]
        return effect_sizes.from_arms(*arms, unit)
    if form == "counts":
        arms = [values[f"{s}_{arm}"] for arm in ARMS for s in ("events", "n")]
        return effect_sizes.from_counts(*arms, unit)
    if form in ("t", "F"):
        t = values["t"] if form == "t" else values["sign"] * np.sqrt(values["F"])
        return effect_sizes.from_t(t, values["n_treatment"], values["n_control"], unit)
    if form == "variance":
        return values["effect"], np.sqrt(values["variance"])
    if form == "interval":
        if np.any(values["lower"] >= values["upper"]):
            raise DataError("an interval's lower end must lie below its upper end")
        return values["effect"], (values["upper"] - values["lower"]) / (2 * Z_975)
    return values["effect"], values["se"]


def outcome_sd(table: pd.DataFrame) -> float:
    """The SD pooled over the sites' arms (NaN without them): the outcome's scale."""
    n = pd.concat([table["n_control"], table["n_treatment"]])
    sd = pd.concat([table["sd_control"], table["sd_treatment"]])
    return float(np.sqrt(((n - 1) * sd**2).sum() / (n - 1).sum())) if n.notna().all() else np.nan


def process(raw_path: str | Path, spec: dict) -> tuple[pd.DataFrame, dict]:
    """Validate a summary-level file; the per-site table and its processing record."""
    raw_path = Path(raw_path)
    read = spec.get("read") or {}
    raw = read_table(raw_path, spec["format"], read)
    table, left_out = site_table(
        raw, spec["summary"], spec["effect_size"], read.get("decimal", ".")
    )
    for location in left_out:
        log.warning("%s: %s is not a site: left out", raw_path, location)
    warnings: list[str] = []
    record = {
        **source_record(raw_path, spec, warnings),
        "level": "summary",
        "summary_form": summary_form(spec["summary"]),
        "effect_size": spec["effect_size"],
        "rows_raw": len(raw),
        "rows_kept": len(table),
        "rows_removed": len(raw) - len(table),
        "removed_by_column": {"not a site (blank, or a footer)": len(raw) - len(table)},
        "left_out": left_out,
        "columns": {"site": "category", "effect": "number", "se": "number"},
        "ignored_columns": [
            c for c in raw.header if c not in named_columns(spec["summary"]).values()
        ],
        "sites": len(table),
        "site_levels": [str(level) for level in table["site"].cat.categories],
        "participants": None,
        "warnings": warnings,
    }
    return table, record
