"""The replication verdict: the pooled treatment effect against the original study's.

Per model: the posterior of the treatment coefficient (mean, credible interval, the
probability that it is above zero and that it reaches the original effect), and a
Savage-Dickey Bayes factor BF01 for a zero effect: the posterior density at zero over
the prior density at zero, with the prior the model actually used (priors.json). For a
model with a random slope on the treatment, the site-level effects and their SD too.
"""

import json
import logging
import math
from pathlib import Path

import numpy as np
import xarray as xr

from replication_ladder.atomic import write_json

log = logging.getLogger(__name__)


def prior_log_density(prior: dict, value: float) -> float:
    """log p(value) under a prior from priors.json ({dist: Normal, mu: 0, sigma: 12})."""
    import pymc as pm

    args = {key: v for key, v in prior.items() if key != "dist"}
    if any(isinstance(v, dict) for v in args.values()):
        raise ValueError(f"a hierarchical prior has no closed density here: {prior}")
    distribution = getattr(pm, prior["dist"]).dist(**args)
    return float(pm.logp(distribution, value).eval())


def posterior_log_density(draws: np.ndarray, value: float) -> float:
    """log density of the draws at `value` (Gaussian kernel, Scott's bandwidth)."""
    from scipy.stats import gaussian_kde

    return float(gaussian_kde(np.asarray(draws, dtype=float).ravel()).logpdf(value)[0])


def savage_dickey_log_bf01(draws: np.ndarray, prior: dict) -> float:
    """log BF01 for effect = 0: log p(0 | data) - log p(0)."""
    return posterior_log_density(draws, 0.0) - prior_log_density(prior, 0.0)


def interval(draws: np.ndarray, ci_prob: float) -> tuple[float, float]:
    tail = (1 - ci_prob) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return float(low), float(high)


def treatment_effect(
    posterior: xr.Dataset, prior: dict, treatment: str, original: float, ci_prob: float
) -> dict:
    draws = posterior[treatment].values.ravel()
    log_bf01 = savage_dickey_log_bf01(draws, prior)
    ci_low, ci_high = interval(draws, ci_prob)
    return {
        "mean": float(draws.mean()),
        "sd": float(draws.std(ddof=1)),
        "ci_low": ci_low,
        "ci_high": ci_high,
        "p_positive": float((draws > 0).mean()),
        "p_at_least_original": float((draws >= original).mean()),
        "log_bf01": log_bf01,
        "bf01": math.exp(min(log_bf01, 700.0)),  # capped: JSON has no infinity
        "prior": prior,
    }


def site_effects(posterior: xr.Dataset, treatment: str, site: str, ci_prob: float):
    """Each site's treatment effect (pooled + its deviation) and the SD across sites."""
    slope = f"{treatment}|{site}"
    if slope not in posterior:
        return None
    pooled = posterior[treatment]
    deviations = posterior[slope]
    (level_dim,) = (d for d in deviations.dims if d not in ("chain", "draw"))
    sites = []
    for level in deviations[level_dim].values:
        total = (pooled + deviations.sel({level_dim: level})).values.ravel()
        low, high = interval(total, ci_prob)
        sites.append(
            {"site": str(level), "mean": float(total.mean()), "ci_low": low, "ci_high": high}
        )
    sd = posterior[f"{slope}_sigma"].values.ravel()
    low, high = interval(sd, ci_prob)
    return {"sites": sites, "sd": {"mean": float(sd.mean()), "ci_low": low, "ci_high": high}}


def verdict_sentence(
    effect: dict, model: str, treatment: str, original: float, ci_prob: float
) -> str:
    """One plain sentence: does the original effect replicate, and what the BF says."""
    low, high, mean = effect["ci_low"], effect["ci_high"], effect["mean"]
    if low <= 0 <= high:
        outcome = "does not replicate"
    elif math.copysign(1, mean) != math.copysign(1, original):
        outcome = "is reversed"
    elif low <= original <= high:
        outcome = "replicates"
    else:
        outcome = "replicates in direction but not in size"
    bf01 = effect["bf01"]
    if bf01 > 3:
        evidence = f"BF01 = {bf01:.3g} favours no effect"
    elif bf01 < 1 / 3:
        evidence = f"BF01 = {bf01:.3g} favours an effect"
    else:
        evidence = f"BF01 = {bf01:.3g} is inconclusive"
    return (
        f"The original effect ({original:g}) {outcome}: the pooled effect of {treatment} is "
        f"{mean:.2f} ({100 * ci_prob:.0f}% CI {low:.2f} to {high:.2f}) in the {model} model, "
        f"and {evidence}."
    )


def replication_report(
    posteriors: dict[str, Path],
    priors: dict[str, dict],
    ranking: list[str],
    replication: dict,
    site: str | None,
    ci_prob: float,
) -> dict:
    treatment, original = replication["treatment"], replication["original_effect"]
    results = {}
    for model, path in posteriors.items():
        with xr.open_datatree(path, engine="h5netcdf") as tree:
            posterior = tree["posterior"].to_dataset()
            if treatment not in posterior:
                log.info("%s has no coefficient %r", model, treatment)
                continue
            if treatment not in priors[model]:
                raise KeyError(f"{model}: no prior for {treatment!r} in priors.json")
            needed = [
                v for v in posterior.data_vars if v == treatment or v.startswith(f"{treatment}|")
            ]
            posterior = posterior[needed].load()
        results[model] = treatment_effect(
            posterior, priors[model][treatment], treatment, original, ci_prob
        )
        if site is not None:
            results[model]["site_effects"] = site_effects(posterior, treatment, site, ci_prob)
    headline = next(model for model in ranking if model in results)
    return {
        "treatment": treatment,
        "original_effect": original,
        "published": replication["published"],
        "ci_prob": ci_prob,
        "headline_model": headline,
        "verdict": verdict_sentence(results[headline], headline, treatment, original, ci_prob),
        "models": results,
    }


def main(snakemake) -> None:
    import pandas as pd

    models = snakemake.params.models
    loo = pd.read_parquet(snakemake.input.loo)
    report = replication_report(
        dict(zip(models, snakemake.input.posteriors, strict=True)),
        {
            m: json.loads(Path(p).read_text())
            for m, p in zip(models, snakemake.input.priors, strict=True)
        },
        ranking=list(loo.sort_values("rank").index),
        replication=snakemake.params.replication,
        site=snakemake.params.site,
        ci_prob=snakemake.config["ci_prob"],
    )
    write_json(snakemake.output[0], report)
    log.info("%s", report["verdict"])
