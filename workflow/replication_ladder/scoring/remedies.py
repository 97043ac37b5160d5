"""PSIS-LOO of one fit, with the configured remedy for observations PSIS cannot handle.

The fit job computed the PSIS-LOO (replication_ladder.scoring.elpd_loo); a rung's loo job applies
the settings to it. Observations whose Pareto k exceeds the threshold (or has none) are
counted and get the remedy: moment matching, exact refits without them (reloo), or k-fold
cross-validation; the refits compile the rung once (replication_ladder.models.refit). Only then
does the job read the posterior (the RRR's log-likelihood is 440 MB at 8,000 draws).
"""

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from replication_ladder.base.errors import DataError
from replication_ladder.scoring import psis
from replication_ladder.scoring.elpd_loo import relative_efficiency

log = logging.getLogger(__name__)

OBS_DIM = "row"


def read_for_loo(path: str | Path, groups):
    """The groups LOO needs from a posterior file, loaded (the file is closed after).

    Bambi's observation dimension `__obs__` is renamed: ArviZ's reloo stacks the
    observation dimensions into one named `__obs__` and fails when that name is taken.
    The log-likelihood, stored as float32, is computed with in float64.
    """
    import xarray as xr  # here: the Snakefile imports this module to size loo jobs

    loaded = {}
    with xr.open_datatree(path, engine="h5netcdf") as tree:
        for group in (g for g in groups if g in tree):
            dataset = tree[group].to_dataset().load()
            if group == "log_likelihood":
                dataset = dataset.astype("float64")
            renamed = {d: OBS_DIM for d in dataset.dims if d in ("__obs__", "obs")}
            loaded[f"/{group}"] = dataset.rename(renamed)
    return xr.DataTree.from_dict(loaded)


def pointwise_loo(tree):
    """PSIS-LOO with pointwise elpd and Pareto k, as ArviZ's `loo` result (what its
    remedies take); the smoothed weights come from replication_ladder.scoring.psis (the same
    numbers, a tenth of the time)."""
    import arviz as az
    import xarray as xr

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
    """Re-estimate the observations with high Pareto k (there are some, and a remedy is
    configured); returns (elpd, method used)."""
    import arviz as az

    from replication_ladder.models.kinds import build_rung
    from replication_ladder.models.refit import RefitWrapper

    threshold = settings["pareto_k_threshold"]
    n_high = _n_high(elpd, threshold)
    remedy = settings["remedy"]
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


def k_threshold(configured: float, n_samples: int) -> float:
    """The configured threshold, lowered for short runs to where PSIS stays reliable,
    1 - 1/log10(S) (0.7 from S = 2,200 draws on), as ArviZ does."""
    return min(configured, psis.good_k(n_samples))


def high_pareto_k(table: pd.DataFrame, configured: float) -> tuple[float, int]:
    """The threshold for a fit's PSIS table (the configured one, lowered for short runs)
    and how many of its rows have a Pareto k above it (or none)."""
    threshold = k_threshold(configured, table.attrs["n_samples"])
    return threshold, int(psis.high_k(table["pareto_k"].to_numpy(), threshold).sum())


def _remedy_due(n_high: int, settings: dict) -> bool:
    return n_high > 0 and settings["remedy"] != "none"


def needs_remedy(psis_path: str | Path, settings: dict) -> bool:
    """Whether a loo job will run its remedy (which may refit: a job sized like a fit)."""
    table = pd.read_parquet(psis_path)
    if table.attrs["unscorable"]:
        return False
    return _remedy_due(high_pareto_k(table, settings["pareto_k_threshold"])[1], settings)


def _remedied(elpd, psis_k: np.ndarray, threshold: float) -> tuple[dict, dict]:
    """A remedy's ArviZ result as the totals and the pointwise columns the fit's table has."""
    totals = {
        "kind": elpd.kind,
        "elpd": float(elpd.elpd),
        "se": float(elpd.se),
        "p": float(elpd.p),
        "n_samples": int(elpd.n_samples),
        "n_data_points": int(elpd.n_data_points),
        "warning": bool(elpd.warning),
        "good_k": None if elpd.good_k is None else float(elpd.good_k),
        "n_folds": getattr(elpd, "n_folds", None),
        "n_high_pareto_k_after": _n_high(elpd, threshold),
    }
    no_k = np.full(psis_k.size, np.nan)  # k-fold: exact, no importance sampling
    pointwise = {
        "elpd_i": np.asarray(elpd.elpd_i).ravel(),
        "pareto_k": no_k if elpd.pareto_k is None else np.asarray(elpd.pareto_k).ravel(),
    }
    return totals, pointwise


def score_rung(
    psis_path: str | Path,
    posterior_path: str | Path,
    *,
    spec: dict,
    data: pd.DataFrame,
    settings: dict,
    cores: int = 1,
) -> tuple[dict, pd.DataFrame]:
    """The fit's PSIS-LOO (psis_path), with the remedy for high Pareto k, which reads the
    fit's draws (posterior_path): (scalars, pointwise)."""
    table = pd.read_parquet(psis_path)
    fitted = table.attrs
    if fitted["unscorable"]:
        raise DataError(f"{psis_path}: {fitted['unscorable']}")
    threshold, n_high = high_pareto_k(table, settings["pareto_k_threshold"])
    psis_k = table["pareto_k"].to_numpy()
    totals = {
        "kind": "loo",
        **{key: fitted[key] for key in ("elpd", "se", "p", "n_samples", "n_data_points")},
        "warning": bool(np.any(psis_k > fitted["good_k"])),  # ArviZ's: NaN is no warning
        "good_k": fitted["good_k"],
        "n_folds": None,
        "n_high_pareto_k_after": n_high,
    }
    pointwise, method = {"elpd_i": table["elpd_i"].to_numpy(), "pareto_k": psis_k}, "psis"
    if _remedy_due(n_high, settings):
        tree = read_for_loo(posterior_path, groups=("posterior", "log_likelihood", "observed_data"))
        settings = {**settings, "pareto_k_threshold": threshold}
        elpd, method = apply_remedy(
            pointwise_loo(tree), tree, spec=spec, data=data, settings=settings, cores=cores
        )
        totals, pointwise = _remedied(elpd, psis_k, threshold)
    scalars = {
        **totals,
        "pareto_k_threshold": threshold,
        "n_high_pareto_k": n_high,
        "remedy": method,
        "observed_sha256": fitted["observed_sha256"],
    }
    pointwise = pd.DataFrame(
        {
            "elpd_i": pointwise["elpd_i"],
            "pareto_k_psis": psis_k,
            "pareto_k": pointwise["pareto_k"],
            "method": method,
        }
    )
    return scalars, pointwise.rename_axis("row")
