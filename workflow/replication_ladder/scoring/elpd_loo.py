"""The PSIS-LOO of a fit, computed by its fit job as it computes the log-likelihood
(models.pointwise): each observation's elpd_loo, p_loo and Pareto k, and the totals
ArviZ reports.

PSIS has no settings, so a fit's LOO is done with its draws, rather than by a process
that reads the whole log-likelihood back (440 MB for the RRR at 8,000 draws). What
depends on the loo settings (the Pareto k threshold, the remedy) is the loo job's, which
reads this table and opens the posterior only when a remedy has to refit or reweight, so
a settings change reruns no fit.
"""

import hashlib

import numpy as np
import pandas as pd

from replication_ladder.scoring import psis


def relative_efficiency(tree) -> float:
    """ArviZ's r_eff: the mean ESS of the posterior over the draws (1 for one chain)."""
    import arviz as az

    posterior = tree["posterior"]
    n_draws = posterior.sizes["chain"] * posterior.sizes["draw"]
    if posterior.sizes["chain"] == 1:
        return 1.0
    ess = az.ess(tree, group="posterior", method="mean")
    return float(np.hstack([v.values.ravel() for v in ess.data_vars.values()]).mean() / n_draws)


def observed_sha256(tree) -> str:
    """The observations scored: models are compared only on the same ones."""
    values = np.ascontiguousarray(tree["observed_data"].to_dataset().to_array().values)
    return hashlib.sha256(values.tobytes()).hexdigest()


def loo_table(
    pointwise: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    n_samples: int,
    r_eff: float,
    observed: str,
    unscorable: str | None = None,
) -> pd.DataFrame:
    """One row per observation (elpd_i, p_loo_i, pareto_k, from `pointwise`), with the
    totals in `attrs`: elpd, se, p (ArviZ's `loo_summary` of the pointwise values),
    n_samples, n_data_points, good_k, r_eff and the observations' sha256 (`observed`).
    Where PSIS cannot be done (too few draws, a constant tail), no rows and the reason as
    `unscorable`: the fit stands, and its loo job fails with the reason."""
    import arviz_stats  # noqa: F401  (the `azstats` accessor of xarray)
    import xarray as xr

    elpd_i, p_loo_i, pareto_k = pointwise
    elpd, se, p, _ = xr.DataArray(elpd_i).azstats.loo_summary(xr.DataArray(p_loo_i))
    table = pd.DataFrame({"elpd_i": elpd_i, "p_loo_i": p_loo_i, "pareto_k": pareto_k})
    table.attrs = {
        "unscorable": unscorable,
        "elpd": float(elpd),
        "se": float(se),
        "p": float(p),
        "n_samples": int(n_samples),
        "n_data_points": int(elpd_i.size),
        "good_k": float(psis.good_k(n_samples)),
        "r_eff": r_eff,
        "observed_sha256": observed,
    }
    return table.rename_axis("row")
