"""Predictions for new rows: the expected value and a new observation, with intervals.

New rows come from a held-out part of a synthetic dataset, a file, or a grid. They are
checked like data (declared types) and against the fitted data: every predictor present
and nothing else, and no category level the models never saw. Each rung then predicts
them: for Bambi models through `model.predict` (kind "response_params" and "response"),
for PyMC models through `pm.set_data` and `pm.sample_posterior_predictive`.
"""

import itertools
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from replication_ladder.base.errors import DataError
from replication_ladder.data.columns import column_type
from replication_ladder.data.readers import read_table
from replication_ladder.data.validation import convert_column

log = logging.getLogger(__name__)


def grid_rows(grid: dict) -> pd.DataFrame:
    """Every combination of the grid's values (`{from, to, num}` is an even spacing)."""
    axes = {
        column: (
            np.linspace(values["from"], values["to"], values["num"])
            if isinstance(values, dict)
            else list(values)
        )
        for column, values in grid.items()
    }
    return pd.DataFrame(list(itertools.product(*axes.values())), columns=list(axes))


def _as_tokens(frame: pd.DataFrame) -> dict[str, list[str]]:
    return {column: ["" if pd.isna(v) else str(v) for v in frame[column]] for column in frame}


def check_new_rows(
    path: Path,
    header: list[str],
    tokens: dict[str, list[str]],
    locations: list[str],
    spec: dict,
    fitted: pd.DataFrame,
) -> pd.DataFrame:
    """Typed new rows: the predictors (and the response, if known), checked."""
    predictors, response = spec["predictors"], spec["response"]
    missing = [column for column in predictors if column not in header]
    if missing:
        raise DataError(
            f"{path}: predictor column {missing[0]!r} is missing "
            f"(the models predict from {', '.join(predictors)})"
        )
    extra = [column for column in header if column not in (*predictors, response)]
    if extra:
        raise DataError(
            f"{path}: column {extra[0]!r} is not a predictor of any model "
            f"(predictors: {', '.join(predictors)}; response: {response})"
        )
    columns = {}
    for column in header:
        declared = spec["columns"][column]
        values, gone = convert_column(path, column, declared, tokens[column], locations)
        if column in predictors and gone.any():
            where = locations[int(np.flatnonzero(gone)[0])]
            raise DataError(f"{path}: {where}: column {column!r} has no value")
        if column_type(declared) == "category":
            seen = list(fitted[column].cat.categories)
            unseen = sorted(set(values.dropna()) - set(seen))
            if unseen:
                raise DataError(
                    f"{path}: column {column!r} has level {unseen[0]!r}, which the "
                    f"models never saw (levels: {', '.join(seen)})"
                )
            values = pd.Series(pd.Categorical(values, categories=seen), name=column)
        elif column_type(declared) in ("integer", "binary") and not values.isna().any():
            values = values.astype("int64")
        columns[column] = values
    return pd.DataFrame(columns)[[c for c in (*predictors, response) if c in columns]]


def rows_to_predict(spec: dict, fitted: pd.DataFrame, source: Path | None) -> pd.DataFrame:
    """The rows to predict, from a file (a held-out part or the user's) or a grid."""
    predict = spec["predict"]
    if "grid" in predict:
        grid = grid_rows(predict["grid"])
        where = Path(f"<datasets.{spec['dataset']}.predict.grid>")
        rows = [f"row {i}" for i in range(1, len(grid) + 1)]
        return check_new_rows(where, list(grid), _as_tokens(grid), rows, spec, fitted)
    raw = read_table(source, Path(source).suffix.lstrip(".").lower() or "csv")
    header = raw.header
    if "holdout" in predict:  # generated columns the models do not use are dropped
        header = [c for c in header if c in (*spec["predictors"], spec["response"])]
    return check_new_rows(source, header, raw.cells, raw.locations, spec, fitted)


def interval(draws: np.ndarray, ci_prob: float) -> tuple[np.ndarray, np.ndarray]:
    tail = (1 - ci_prob) / 2
    return np.quantile(draws, tail, axis=0), np.quantile(draws, 1 - tail, axis=0)


def prediction_table(
    rows: pd.DataFrame, expected: np.ndarray, replicated: np.ndarray, response: str, ci_prob: float
) -> pd.DataFrame:
    """Per new row: the posterior mean of the expected value and the intervals of the
    expected value and of a new observation (draws x rows arrays)."""
    table = rows.drop(columns=[response], errors="ignore").copy()
    table["mean"] = expected.mean(axis=0)
    table["mean_ci_low"], table["mean_ci_high"] = interval(expected, ci_prob)
    table["obs_ci_low"], table["obs_ci_high"] = interval(replicated, ci_prob)
    if response in rows:
        table["observed"] = rows[response].to_numpy(float)
        table["covered"] = (table["obs_ci_low"] <= table["observed"]) & (
            table["observed"] <= table["obs_ci_high"]
        )
    table.index.name = "row"
    return table
