"""The comparison of a dataset's ladder by PSIS-LOO: `az.compare` over the rungs that can
be compared, with the Pareto k counts and remedies beside it.

Only rungs fitted to the same rows with the same kind of likelihood are compared: a
rung fitted to per-site estimates (the two-stage meta-analysis) scores other data, and a
discrete likelihood (the ordinal rung) gives probabilities where a continuous one gives
densities, so their log scores are on other scales. The table lists those rungs with
the reason they are left out, and no score.
"""

import logging

import pandas as pd
import xarray as xr

from replication_ladder.base.errors import DataError

log = logging.getLogger(__name__)

LOO_COLUMNS = [  # the table's columns, in order
    "rank",
    "elpd",
    "se",
    "p",
    "elpd_diff",
    "dse",
    "weight",
    "warning",
    "p_worse",
    "diag_diff",
    "diag_elpd",
    "rows",
    "pareto_k_threshold",
    "n_high_pareto_k",
    "share_high_pareto_k",
    "remedy",
    "n_high_pareto_k_after",
    "comparable",
    "not_comparable_because",
]


def elpd_data(scalars: dict, pointwise: pd.DataFrame):
    """Rebuild ArviZ's ELPD result from the stored scalars and pointwise values."""
    from arviz_stats import ELPDDataLOO, ELPDDataLOOKFold

    common = {
        key: scalars[key]
        for key in ("elpd", "se", "p", "n_samples", "n_data_points", "warning", "good_k")
    }
    elpd_i = xr.DataArray(pointwise["elpd_i"].to_numpy(), dims=["__obs__"])
    if scalars["kind"] == "loo_kfold":
        return ELPDDataLOOKFold(**common, scale="log", elpd_i=elpd_i, n_folds=scalars["n_folds"])
    pareto_k = xr.DataArray(pointwise["pareto_k"].to_numpy(), dims=["__obs__"])
    return ELPDDataLOO(**common, scale="log", elpd_i=elpd_i, pareto_k=pareto_k)


def check_same_rows(scores: dict[str, dict], where: str) -> None:
    """Models fitted to different rows cannot be compared by LOO: refuse, naming them."""
    reference_model, reference = next(iter(scores.items()))
    differing = [
        model for model, s in scores.items() if s["observed_sha256"] != reference["observed_sha256"]
    ]
    if differing:
        counts = ", ".join(f"{model} ({s['n_data_points']} rows)" for model, s in scores.items())
        raise DataError(
            f"{where}: cannot compare models fitted to different rows: {counts}; the rows of "
            f"{', '.join(differing)} differ from those of {reference_model}. Give every model "
            "the same rows (the dataset's dropna, no formula column with missing values)."
        )


def compare_ladder(
    scores: dict[str, dict],
    pointwise: dict[str, pd.DataFrame],
    excluded: dict[str, str] | None = None,
    where: str = "",
) -> pd.DataFrame:
    """az.compare over the comparable rungs, with the Pareto k counts and remedies beside
    it; excluded rungs follow, with the reason and no score."""
    import arviz_stats  # ArviZ's statistics alone: `arviz` would load its plots too

    check_same_rows(scores, where)
    if len(scores) > 1:
        elpds = {model: elpd_data(scores[model], pointwise[model]) for model in scores}
        table = arviz_stats.compare(elpds, round_to="none")
    else:  # one rung: nothing to compare it with
        (model,) = scores
        table = pd.DataFrame(
            {key: [scores[model][key]] for key in ("elpd", "se", "p", "warning")}, index=[model]
        ).assign(rank=0, elpd_diff=0.0, dse=0.0, weight=1.0, p_worse=float("nan"))
        table["diag_diff"] = table["diag_elpd"] = ""
    table.index.name = "model"
    for key in (
        "warning",
        "pareto_k_threshold",
        "n_high_pareto_k",
        "remedy",
        "n_high_pareto_k_after",
    ):
        table[key] = [scores[model][key] for model in table.index]
    table["rows"] = [scores[model]["n_data_points"] for model in table.index]
    table["share_high_pareto_k"] = table["n_high_pareto_k"] / table["rows"]
    table["comparable"] = True
    table["not_comparable_because"] = ""
    if excluded:
        others = pd.DataFrame(
            {"comparable": False, "not_comparable_because": list(excluded.values())},
            index=pd.Index(list(excluded), name="model"),
        )
        table = pd.concat([table, others])
    for column in ("diag_diff", "diag_elpd", "remedy", "not_comparable_because"):
        table[column] = table[column].fillna("").astype(str)
    return table[LOO_COLUMNS]
