"""Tables as a paper prints them: every figure to the precision it supports. The CSV
beside the report keeps full precision; what the reader sees is text rounded here:

  counts          ESS, n, draws, divergences: whole numbers
  r_hat           3 decimals
  an estimate     with its Monte Carlo error beside it (ArviZ's summary), to the MCSE's
                  first significant digit (an estimate of 0.2441 with MCSE 0.003: 0.244)
  Monte Carlo errors and SDs, and any other figure: 3 significant digits

Headers carry their units where a column has one: `units` names them per column (the
outcome's unit for its means and SDs, nats for log predictive densities).

pandas' Styler formats by column, not by row, and would still print the underlying
floats to the CSV it is given: a text copy serves both the notebook and the HTML.
"""

import math

import numpy as np
import pandas as pd

COUNTS = ("ess", "n_", "count", "draws", "divergences", "rows", "sites", "participants", "rank")
ESTIMATES = ("mean", "median", "ci_low", "ci_high", "elpd", "estimate")
SIGNIFICANT = 3


def _is_count(column: str) -> bool:
    name = str(column).lower()
    return name.startswith(COUNTS) or name in ("n", "warning")


def significant(value: float, digits: int = SIGNIFICANT) -> str:
    """`value` to `digits` significant digits, never in E notation between 1e-4 and 1e6."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    if abs(value) < 1e-4 or abs(value) >= 1e6:
        return f"{value:.{digits - 1}e}"
    return f"{value:.{decimals}f}"


def to_mcse(value: float, mcse: float) -> str:
    """`value` rounded at the first significant digit of its Monte Carlo error."""
    if not (math.isfinite(mcse) and mcse > 0):
        return significant(value)
    decimals = max(0, -math.floor(math.log10(mcse)))
    return f"{value:.{decimals}f}"


def _cell(value, column: str, mcse: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        return str(value)
    value = float(value)
    if _is_count(column):
        return f"{value:.0f}"
    if column == "r_hat":
        return f"{value:.3f}"
    if mcse is not None and str(column).startswith(ESTIMATES):
        return to_mcse(value, mcse)
    return significant(value)


# The scale of expected log predictive densities (elpd), their differences and SEs.
LOG_SCORE = "nats"


def log_score_units(frame: pd.DataFrame) -> dict[str, str]:
    """LOO and leave-one-site-out tables: elpd and its standard errors are in nats."""
    return {str(c): LOG_SCORE for c in frame.columns if str(c).startswith(("elpd", "se", "dse"))}


def printable(frame: pd.DataFrame, units: dict[str, str] | None = None) -> pd.DataFrame:
    """A text copy of `frame` with every figure rounded as the module says, and each
    column in `units` headed 'name [unit]'."""
    mcse = frame.get("mcse_mean")
    units = {column: unit for column, unit in (units or {}).items() if unit}
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        header = f"{column} [{units[str(column)]}]" if str(column) in units else column
        out[header] = [
            _cell(value, str(column), None if mcse is None else float(mcse.iloc[i]))
            for i, value in enumerate(values)
        ]
    return out
