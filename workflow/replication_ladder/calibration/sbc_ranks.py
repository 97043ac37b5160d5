"""A rung's SBC ranks gathered from its batches and tested for uniformity, and its Bayes
factors' calibration.

Kept apart from the fitting (replication_ladder.calibration.sbc): editing how the ranks are tested
reruns this job only, not every batch of replicates. The test is read together with the
replicates' convergence: ranks from chains that did not mix (R-hat above the config's
`convergence.max_r_hat`, the line every fit is judged by) test the sampler settings as
much as the model, and the summary counts them.

Uniformity is tested by family, each with Bonferroni within it: the parameters the verdict
uses (the treatment's effect and its SD across sites), the rest of the scalars (SDs,
common effects), and the per-level effects (thousands of them, whose correction would
leave no power for the first two).

The Bayes factors (Schad, Nicenboim, Buerkner, Betancourt & Vasishth 2022): replicates
simulated from H1's prior and as many from H0's (the effect at zero), each's posterior
probability of H1 at prior odds 1; calibrated, their average equals H1's share of the
replicates (a half) within Monte Carlo error, and within bins of P(H1 | y) the share of
replicates from H1 equals the bin's average P.
"""

import logging

import numpy as np
import pandas as pd

from replication_ladder.calibration.sbc import META

log = logging.getLogger(__name__)

UNIFORMITY_ALPHA = 0.01


CALIBRATION_Z = 2.58  # two-sided 1%: the line a BF calibration's mean must stay within
CALIBRATION_BINS = 5


def prior_replicates(ranks: pd.DataFrame) -> pd.DataFrame:
    """The replicates drawn from the rung's prior (H1), whose ranks SBC tests."""
    if "hypothesis" not in ranks:
        return ranks
    return ranks[ranks["hypothesis"] == "H1"].reset_index(drop=True)


def pit_values(ranks: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Randomised PIT values (rank + u) / (draws + 1), uniform when calibrated."""
    ranks = prior_replicates(ranks)
    rng = np.random.default_rng(seed)
    parameters = [c for c in ranks.columns if c not in META]
    u = rng.uniform(size=(len(ranks), len(parameters)))
    scale = ranks["draws_ranked"].to_numpy(float)[:, None] + 1
    return pd.DataFrame((ranks[parameters].to_numpy(float) + u) / scale, columns=parameters)


def convergence(ranks: pd.DataFrame, max_r_hat: float) -> dict:
    """How many replicates' chains did not mix, by the same R-hat line as every fit."""
    r_hat = ranks["max_r_hat"]
    return {
        "max_r_hat_threshold": max_r_hat,
        "unconverged_replicates": int((r_hat > max_r_hat).sum()),
        "median_max_r_hat": float(r_hat.median()) if len(r_hat) else None,
        "divergent_replicates": int((ranks["divergences"] > 0).sum()),
    }


def families(parameters: list[str], treatment: str | None, site: str | None) -> dict:
    """The parameters by family: the verdict's (the effect, its SD across sites), the
    other scalars, and the per-level ones (`name[level]`)."""
    verdict = {treatment, f"{treatment}|{site}_sigma"} if treatment else set()
    grouped = {"verdict": [], "scalars": [], "levels": []}
    for name in parameters:
        family = "verdict" if name in verdict else "levels" if "[" in name else "scalars"
        grouped[family].append(name)
    return {family: names for family, names in grouped.items() if names}


def uniformity(
    ranks: pd.DataFrame,
    seed: int,
    max_r_hat: float,
    treatment: str | None = None,
    site: str | None = None,
) -> dict:
    """ArviZ's uniformity test (pot_c) per parameter, Bonferroni within each family
    (`families`), with the replicates' convergence beside it."""
    import arviz_stats  # noqa: F401  (registers the .azstats accessor used below)
    import xarray as xr

    pit = pit_values(ranks, seed)
    mixing = convergence(prior_replicates(ranks), max_r_hat)
    if len(pit) < 2:
        return {"replicates": len(pit), "parameters": {}, "miscalibrated": [], **mixing}
    dataset = xr.Dataset(
        {name: (("draw",), pit[name].to_numpy()) for name in pit.columns}
    ).expand_dims(chain=[0])
    p_values = {}
    for name in pit.columns:
        p_value = dataset[name].azstats.uniformity_test(dim=["chain", "draw"])
        p_values[name] = float(np.asarray(p_value[0] if isinstance(p_value, tuple) else p_value))
    grouped = {}
    for family, names in families(list(p_values), treatment, site).items():
        bound = UNIFORMITY_ALPHA / len(names)
        grouped[family] = {
            "parameters": names,
            "bonferroni_bound": bound,
            "miscalibrated": sorted(name for name in names if p_values[name] < bound),
        }
    return {
        "replicates": len(pit),
        "alpha": UNIFORMITY_ALPHA,
        "families": grouped,
        "parameters": p_values,
        "miscalibrated": sorted(n for family in grouped.values() for n in family["miscalibrated"]),
        **mixing,
    }


def bayes_factor_calibration(ranks: pd.DataFrame) -> dict | None:
    """Schad et al.'s check of the Bayes factors: the mean posterior probability of H1
    over replicates from both hypotheses against H1's share of them, with its Monte Carlo
    error, and the same within bins of that probability. None where no replicate has a
    Bayes factor (a rung without one, or no null replicates)."""
    if "log_bf10" not in ranks:
        return None
    rows = ranks.dropna(subset=["log_bf10"])
    if rows.empty or rows["hypothesis"].nunique() < 2:
        return None
    from scipy.special import expit

    p_h1 = expit(rows["log_bf10"].to_numpy(float))
    from_h1 = (rows["hypothesis"] == "H1").to_numpy()
    share = float(from_h1.mean())
    mcse = float(p_h1.std(ddof=1) / np.sqrt(p_h1.size))
    z = float((p_h1.mean() - share) / mcse) if mcse > 0 else 0.0
    edges = np.quantile(p_h1, np.linspace(0, 1, CALIBRATION_BINS + 1))
    bins = np.clip(np.searchsorted(edges, p_h1, side="right") - 1, 0, CALIBRATION_BINS - 1)
    table = [
        {
            "mean_p_h1": float(p_h1[bins == b].mean()),
            "share_from_h1": float(from_h1[bins == b].mean()),
            "replicates": int((bins == b).sum()),
        }
        for b in range(CALIBRATION_BINS)
        if (bins == b).any()
    ]
    return {
        "replicates": int(p_h1.size),
        "share_from_h1": share,
        "mean_p_h1": float(p_h1.mean()),
        "mean_p_h1_mcse": mcse,
        "z": z,
        "calibrated": bool(abs(z) <= CALIBRATION_Z),
        "mean_p_h1_given": {
            "H1": float(p_h1[from_h1].mean()),
            "H0": float(p_h1[~from_h1].mean()),
        },
        "unreliable": int((~rows["bf_reliable"].astype(bool)).sum()),
        "bins": table,
    }
