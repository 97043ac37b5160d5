"""PSIS-LOO of one fit, with the configured remedy for observations PSIS cannot handle.

Each rung is scored in a job of its own, which holds only that rung's draws (the RRR's
log-likelihood is 4 x 1000 x 6,907 float64, 220 MB) and keeps the pointwise elpd and
Pareto k. Observations whose Pareto k exceeds the threshold (or has none) are counted and
get the remedy: moment matching, exact refits without them (reloo), or k-fold
cross-validation; the refits compile the rung once (replication_ladder.refit).
"""

import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from replication_ladder import psis
from replication_ladder.atomic import write_json, write_parquet

log = logging.getLogger(__name__)

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
                .rename({d: OBS_DIM for d in tree[g].dims if d in ("__obs__", "obs")})
                for g in groups
                if g in tree
            }
        )


def relative_efficiency(tree) -> float:
    """ArviZ's r_eff: the mean ESS of the posterior over the draws (1 for one chain)."""
    import arviz as az

    posterior = tree["posterior"]
    n_draws = posterior.sizes["chain"] * posterior.sizes["draw"]
    if posterior.sizes["chain"] == 1:
        return 1.0
    ess = az.ess(tree, group="posterior", method="mean")
    return float(np.hstack([v.values.ravel() for v in ess.data_vars.values()]).mean() / n_draws)


def pointwise_loo(tree):
    """PSIS-LOO with pointwise elpd and Pareto k, as ArviZ's `loo` result; the smoothed
    weights come from replication_ladder.psis (the same numbers, a tenth of the time)."""
    import arviz as az

    (log_lik,) = tree["log_likelihood"].to_dataset().data_vars.values()
    log_lik = log_lik.transpose("chain", "draw", ...)
    n_draws = log_lik.sizes["chain"] * log_lik.sizes["draw"]
    r_eff = relative_efficiency(tree)
    weights, pareto_k = psis.psis_log_weights(log_lik.values.reshape(n_draws, -1), r_eff)
    log_weights = log_lik.copy(data=weights.reshape(log_lik.shape))
    khat = xr.DataArray(pareto_k.reshape(log_lik.shape[2:]), dims=log_lik.dims[2:])
    return az.loo(tree, pointwise=True, reff=r_eff, log_weights=log_weights, pareto_k=khat)


def _n_high(elpd, threshold: float) -> int:
    if elpd.pareto_k is None:  # k-fold: exact, no importance sampling
        return 0
    return int(psis.high_k(np.asarray(elpd.pareto_k), threshold).sum())


def apply_remedy(elpd, tree, *, spec: dict, data: pd.DataFrame, settings: dict, cores: int):
    """Re-estimate observations with high Pareto k; returns (elpd, method used)."""
    import arviz as az

    from replication_ladder.refit import RefitWrapper
    from replication_ladder.rungs import build_rung

    threshold = settings["pareto_k_threshold"]
    n_high = _n_high(elpd, threshold)
    remedy = settings["remedy"]
    if n_high == 0 or remedy == "none":
        return elpd, "psis"
    where = f"{spec['dataset']}/{spec['model']}"
    rung = build_rung(spec, data)
    if remedy in ("moment_match", "reloo") and n_high > settings["max_reloo"]:
        # One by one, that many observations would take longer than k refits.
        log.info("%s: %d observations with k > %s, more than max_reloo", where, n_high, threshold)
        remedy = "kfold"
    if remedy == "moment_match":
        try:
            matched = az.loo(
                tree,
                pointwise=True,
                moment_match=True,
                model=rung.moment_match_model(),
                log_weights=elpd.log_weights,
                pareto_k=elpd.pareto_k,
            )
            log.info(
                "%s: moment matching for %d observations with k > %s", where, n_high, threshold
            )
            return matched, "moment_match"
        except (NotImplementedError, ValueError, KeyError) as error:
            log.warning("%s: moment matching unavailable (%s); refitting instead", where, error)
            remedy = "reloo"
    if remedy == "reloo" and n_high <= settings["max_reloo"]:
        log.info("%s: %d exact refits for observations with k > %s", where, n_high, threshold)
        wrapper = RefitWrapper(rung, tree, cores, refits=n_high)
        return az.reloo(wrapper, loo_orig=elpd, k_threshold=threshold, pointwise=True), "reloo"
    log.info(
        "%s: %d-fold cross-validation (%d observations with k > %s)",
        where,
        settings["kfold_folds"],
        n_high,
        threshold,
    )
    # The split is the dataset's, not the rung's: every compared rung is scored on the
    # same folds (one seed per dataset; all of a participant's rows in one fold).
    group = settings["kfold_group"]
    kfold = az.loo_kfold(
        tree,
        RefitWrapper(rung, tree, cores, refits=settings["kfold_folds"]),
        k=settings["kfold_folds"],
        pointwise=True,
        group_by=rung.data[group].astype(str).to_numpy() if group else None,
        seed=settings["kfold_seed"],
        save_fits=False,
    )
    return kfold, "kfold"


def observed_sha256(tree) -> str:
    values = np.ascontiguousarray(tree["observed_data"].to_dataset().to_array().values)
    return hashlib.sha256(values.tobytes()).hexdigest()


def k_threshold(configured: float, n_samples: int) -> float:
    """The configured threshold, lowered for short runs to where PSIS stays reliable,
    1 - 1/log10(S) (0.7 from S = 2,200 draws on), as ArviZ does."""
    return min(configured, psis.good_k(n_samples))


def score_rung(
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


def loo(snakemake) -> None:
    scalars, pointwise = score_rung(
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
            "%d observations with Pareto k > %s (or none); remedy %s leaves %d",
            scalars["n_high_pareto_k"],
            scalars["pareto_k_threshold"],
            scalars["remedy"],
            scalars["n_high_pareto_k_after"],
        )
    log.info("elpd_loo %.1f (se %.1f), p_loo %.1f", scalars["elpd"], scalars["se"], scalars["p"])
