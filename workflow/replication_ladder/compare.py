"""PSIS-LOO per model and the comparison of a dataset's ladder.

Each model is scored in a job of its own (`loo`), which holds only that model's draws
(the RRR's log-likelihood is 4 x 1000 x 6,907 float64, 220 MB) and keeps the pointwise
elpd and Pareto k. Observations whose Pareto k exceeds the threshold are counted and get
the configured remedy: moment matching, exact refits without them (reloo), or k-fold
cross-validation. The comparison (`compare`) then runs az.compare on the stored results.
"""

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from replication_ladder import psis
from replication_ladder.atomic import write_json, write_parquet
from replication_ladder.errors import DataError

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
]


OBS_DIM = "row"


def read_for_loo(path: str | Path, groups) -> xr.DataTree:
    """The groups LOO needs from a posterior file, loaded (the file is closed after).

    Bambi's observation dimension `__obs__` is renamed: ArviZ's reloo stacks the
    observation dimensions into one named `__obs__` and fails when that name is taken.
    """
    with xr.open_datatree(path, engine="h5netcdf") as tree:
        return xr.DataTree.from_dict(
            {
                f"/{g}": tree[g]
                .to_dataset()
                .load()
                .rename({d: OBS_DIM for d in tree[g].dims if d == "__obs__"})
                for g in groups
            }
        )


def _per_row(values: np.ndarray) -> xr.DataArray:
    return xr.DataArray(values, dims=[OBS_DIM])


def pointwise_loo(tree):
    """PSIS-LOO with pointwise elpd and Pareto k, as ArviZ's `loo` result (computed by
    the vectorised replication_ladder.psis: the same numbers, a tenth of the time)."""
    import arviz as az
    from arviz_stats.utils import ELPDDataLOO

    (log_lik,) = tree["log_likelihood"].to_dataset().data_vars.values()
    n_draws = log_lik.sizes["chain"] * log_lik.sizes["draw"]
    draws = log_lik.transpose("chain", "draw", ...).values.reshape(n_draws, -1)
    # ArviZ's relative efficiency: the mean ESS of the posterior over the draws.
    ess = az.ess(tree, group="posterior", method="mean")
    r_eff = (
        float(np.hstack([v.values.ravel() for v in ess.data_vars.values()]).mean() / n_draws)
        if log_lik.sizes["chain"] > 1
        else 1.0
    )
    elpd_i, pareto_k, p_loo_i = psis.psis_loo(draws, r_eff)
    threshold = psis.good_k(n_draws)
    return ELPDDataLOO(
        elpd=float(elpd_i.sum()),
        se=float(np.sqrt(elpd_i.size * np.var(elpd_i, ddof=1))) if elpd_i.size > 1 else 0.0,
        p=float(p_loo_i.sum()),
        n_samples=n_draws,
        n_data_points=elpd_i.size,
        scale="log",
        warning=bool(np.any(pareto_k > threshold)),
        good_k=threshold,
        elpd_i=_per_row(elpd_i),
        pareto_k=_per_row(pareto_k),
        p_loo_i=_per_row(p_loo_i),
        approx_posterior=False,
    )


def _n_high(elpd, threshold: float) -> int:
    if elpd.pareto_k is None:  # k-fold: exact, no importance sampling
        return 0
    return int((np.asarray(elpd.pareto_k) > threshold).sum())


def apply_remedy(elpd, tree, *, spec: dict, data: pd.DataFrame, settings: dict, cores: int):
    """Re-estimate observations with high Pareto k; returns (elpd, method used)."""
    import arviz as az

    from replication_ladder import models
    from replication_ladder.refit import RefitWrapper

    threshold = settings["pareto_k_threshold"]
    n_high = _n_high(elpd, threshold)
    remedy = settings["remedy"]
    if n_high == 0 or remedy == "none":
        return elpd, "psis"
    where = f"{spec['dataset']}/{spec['model']}"
    built = models.build(spec, data)
    if remedy == "moment_match":
        try:
            matched = az.loo(
                tree, pointwise=True, moment_match=True, model=built.bambi_model or built.pymc_model
            )
            log.info(
                "%s: moment matching for %d observations with k > %s", where, n_high, threshold
            )
            return matched, "moment_match"
        except (NotImplementedError, ValueError, KeyError) as error:
            log.warning("%s: moment matching unavailable (%s); refitting instead", where, error)
            remedy = "reloo"
    wrapper = RefitWrapper(spec, built.data, tree, cores)
    if remedy == "reloo" and n_high <= settings["max_reloo"]:
        log.info("%s: %d exact refits for observations with k > %s", where, n_high, threshold)
        return az.reloo(wrapper, loo_orig=elpd, k_threshold=threshold, pointwise=True), "reloo"
    log.info(
        "%s: %d-fold cross-validation (%d observations with k > %s)",
        where,
        settings["kfold_folds"],
        n_high,
        threshold,
    )
    kfold = az.loo_kfold(
        tree, wrapper, k=settings["kfold_folds"], pointwise=True, seed=spec["seed"]
    )
    return kfold, "kfold"


def observed_sha256(tree) -> str:
    values = np.ascontiguousarray(tree["observed_data"].to_dataset().to_array().values)
    return hashlib.sha256(values.tobytes()).hexdigest()


def k_threshold(configured: float, n_samples: int) -> float:
    """The configured threshold, lowered for short runs to where PSIS stays reliable,
    1 - 1/log10(S) (0.7 from S = 2,200 draws on), as ArviZ does."""
    return min(configured, psis.good_k(n_samples))


def score_model(
    path: str | Path, *, spec: dict, data: pd.DataFrame, settings: dict, cores: int = 1
) -> tuple[dict, pd.DataFrame]:
    """PSIS-LOO of one fit, with the remedy for high Pareto k: (scalars, pointwise)."""
    tree = read_for_loo(path, groups=("posterior", "log_likelihood", "observed_data"))
    elpd = pointwise_loo(tree)
    threshold = k_threshold(settings["pareto_k_threshold"], elpd.n_samples)
    settings = {**settings, "pareto_k_threshold": threshold}
    psis_k = np.asarray(elpd.pareto_k).ravel()
    n_high = _n_high(elpd, threshold)
    elpd, method = apply_remedy(elpd, tree, spec=spec, data=data, settings=settings, cores=cores)
    scalars = {
        "kind": elpd.kind,
        "elpd": float(elpd.elpd),
        "se": float(elpd.se),
        "p": float(elpd.p),
        "n_samples": int(elpd.n_samples),
        "n_data_points": int(elpd.n_data_points),
        "warning": bool(elpd.warning),
        "good_k": None if elpd.good_k is None else float(elpd.good_k),
        "n_folds": getattr(elpd, "n_folds", None),
        "pareto_k_threshold": threshold,
        "n_high_pareto_k": n_high,
        "n_high_pareto_k_after": _n_high(elpd, threshold),
        "remedy": method,
        "observed_sha256": observed_sha256(tree),
    }
    pointwise = pd.DataFrame(
        {
            "elpd_i": np.asarray(elpd.elpd_i).ravel(),
            "pareto_k_psis": psis_k,
            "pareto_k": (
                np.asarray(elpd.pareto_k).ravel()
                if elpd.pareto_k is not None
                else np.full(psis_k.size, np.nan)
            ),
            "method": method,
        }
    ).rename_axis("row")
    return scalars, pointwise


def elpd_data(scalars: dict, pointwise: pd.DataFrame):
    """Rebuild ArviZ's ELPD result from the stored scalars and pointwise values."""
    from arviz_stats.utils import ELPDDataLOO, ELPDDataLOOKFold

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
    scores: dict[str, dict], pointwise: dict[str, pd.DataFrame], where: str = ""
) -> pd.DataFrame:
    """az.compare over the ladder, with the Pareto k counts and remedies beside it."""
    import arviz as az

    check_same_rows(scores, where)
    elpds = {model: elpd_data(scores[model], pointwise[model]) for model in scores}
    table = az.compare(elpds, round_to="none")
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
    for column in ("diag_diff", "diag_elpd", "remedy"):
        table[column] = table[column].astype(str)
    return table[LOO_COLUMNS]


def loo_main(snakemake) -> None:
    scalars, pointwise = score_model(
        snakemake.input.posterior,
        spec=snakemake.params.spec,
        data=pd.read_parquet(snakemake.input.data),
        settings=snakemake.params.settings,
        cores=snakemake.threads,
    )
    write_parquet(snakemake.output.pointwise, pointwise)
    write_json(snakemake.output.scores, scalars)
    if scalars["n_high_pareto_k"]:
        log.warning(
            "%d observations with Pareto k > %s; remedy %s leaves %d",
            scalars["n_high_pareto_k"],
            scalars["pareto_k_threshold"],
            scalars["remedy"],
            scalars["n_high_pareto_k_after"],
        )
    log.info("elpd_loo %.1f (se %.1f), p_loo %.1f", scalars["elpd"], scalars["se"], scalars["p"])


def compare_main(snakemake) -> None:
    models = snakemake.params.models
    scores = {
        m: json.loads(Path(p).read_text())
        for m, p in zip(models, snakemake.input.scores, strict=True)
    }
    pointwise = {
        m: pd.read_parquet(p) for m, p in zip(models, snakemake.input.pointwise, strict=True)
    }
    table = compare_ladder(scores, pointwise, where=snakemake.output[0])
    write_parquet(snakemake.output[0], table)
    log.info("LOO comparison:\n%s", table[["rank", "elpd", "se", "elpd_diff", "dse", "weight"]])
