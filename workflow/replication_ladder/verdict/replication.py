"""The replication verdict: the pooled treatment effect of every rung against the original
study's, and for the verdict's rung how sure the verdict is.

Per rung: the posterior of the treatment effect (mean, credible interval, the
probability that it is above zero and that it reaches the original effect), a
Savage-Dickey BF01 against the prior the rung used, the site-level effects where there
are any, and, for a rung whose coefficient is not on the outcome's scale (the ordinal
rung), the implied difference in the expected outcome.

For the verdict's rung (`replication.verdict_model`, else the LOO-best of the rungs that
respect the design):
  test_prior         BF01 against the test's prior (a normal scaled to the original
                     effect unless configured), the prior shown in the report
  sensitivity        BF01 over a grid of prior scales (0.1x to 10x the original effect)
  replication_bf     Verhagen & Wagenmakers' replication Bayes factor: the original's
                     posterior as the alternative, two-sided and in its direction
  equivalence        P(|effect| < SESOI)
  small_telescopes   d33 and whether the replication rules it out
all by reweighting the rung's draws (replication_ladder.verdict.bayes_factors). Beside them, for a
dataset with sites, the frequentist REML random-effects estimate of the same site
estimates (`random_effects`: metafor's figures), an independent reference.
"""

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from replication_ladder.models.prior_spec import Prior, prior_text
from replication_ladder.verdict import bayes_factors as bf
from replication_ladder.verdict.effect_density import EFFECT_DENSITY_GROUP
from replication_ladder.verdict.equivalence import (
    equivalence,
    original_group_sizes,
    original_se,
    small_telescopes,
)

log = logging.getLogger(__name__)

OUTCOME_EFFECT_GROUP = "outcome_effect"


def interval(draws: np.ndarray, ci_prob: float) -> tuple[float, float]:
    tail = (1 - ci_prob) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return float(low), float(high)


def effect_summary(draws: np.ndarray, original: float, ci_prob: float) -> dict:
    draws = np.asarray(draws, float).ravel()
    low, high = interval(draws, ci_prob)
    return {
        "mean": float(draws.mean()),
        "sd": float(draws.std(ddof=1)),
        "ci_low": low,
        "ci_high": high,
        "p_positive": float((draws > 0).mean()),
        "p_at_least_original": float((np.sign(original) * draws >= abs(original)).mean()),
    }


def fixed_prior(prior: dict | None) -> bool:
    """A prior with fixed parameters (a Bayes factor needs its density at zero)."""
    return prior is not None and "dist" in prior and Prior(prior).fixed


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


def read_effect(path: Path, treatment: str):
    """The treatment's draws and its group-level terms, the outcome-scale effect if the
    fit stored one, and the effect's conditional densities at zero (effect_density)."""
    with xr.open_datatree(path, engine="h5netcdf") as tree:
        posterior = tree["posterior"].to_dataset()
        if treatment not in posterior:
            return None, None, None
        needed = [v for v in posterior.data_vars if v == treatment or v.startswith(f"{treatment}|")]
        posterior = posterior[needed].load()
        outcome = at_zero = None
        if OUTCOME_EFFECT_GROUP in tree:
            outcome = tree[OUTCOME_EFFECT_GROUP].to_dataset()[treatment].values.ravel().copy()
        if EFFECT_DENSITY_GROUP in tree:
            at_zero = tree[EFFECT_DENSITY_GROUP].to_dataset()["log_density_at_zero"].load()
    return posterior, outcome, at_zero


def rung_effects(posteriors: dict, priors: dict, spec: dict) -> dict:
    """The pooled effect of every rung that estimates it."""
    treatment, original = spec["treatment"], spec["original"]["effect"]
    results = {}
    for model, path in posteriors.items():
        posterior, outcome_draws, at_zero = read_effect(path, treatment)
        if posterior is None:
            log.info("%s has no coefficient %r", model, treatment)
            continue
        draws = posterior[treatment].values.ravel()
        prior = priors[model].get(treatment)
        effect = {
            **effect_summary(draws, original, spec["ci_prob"]),
            "prior": prior,
            "scale": "latent" if outcome_draws is not None else "outcome",
        }
        if fixed_prior(prior) and at_zero is not None:
            effect["savage_dickey"] = bf.savage_dickey(at_zero, prior)
            effect["bf01"] = effect["savage_dickey"]["bf01"]
        else:
            effect["savage_dickey"] = None
            effect["bf01"] = None
        if outcome_draws is not None:
            effect["outcome_scale"] = effect_summary(outcome_draws, original, spec["ci_prob"])
        if spec["site"] is not None:
            effect["site_effects"] = site_effects(
                posterior, treatment, spec["site"], spec["ci_prob"]
            )
        results[model] = (effect, draws)
    return results


def choose_verdict_model(spec: dict, ranking: list[str], available: list[str]) -> tuple[str, str]:
    """The verdict's rung and how it was chosen: the design first (a rung that models
    every level of clustering), row-level LOO only among those; only a rung whose
    coefficient is on the scale the replication states (the test's priors and SESOI are
    on it)."""
    if spec["verdict_model"] is not None:
        return spec["verdict_model"], "named in the config (replication.verdict_model)"
    scales, scale = spec.get("effect_scales", {}), spec.get("scale", "outcome")
    usable = [m for m in available if scales.get(m, "outcome") == scale]
    design = [m for m in spec["respects_design"] if m in usable]
    ranked = [m for m in ranking if m in design]
    if ranked:
        return ranked[0], (
            "the best by PSIS-LOO of the rungs that model every level of the design"
            if len(ranked) > 1
            else "the one compared rung that models every level of the design"
        )
    if design:
        return design[0], "a rung that models every level of the design (not compared by LOO)"
    best = next(m for m in ranking if m in usable)
    return best, "the best by PSIS-LOO (no compared rung models every level of the design)"


def test_figures(draws: np.ndarray, effect: dict, spec: dict) -> dict:
    """The verdict rung's Bayes factors against the test's prior, over prior scales, and
    against the original's posterior; equivalence and small telescopes."""
    original = spec["original"]
    fitted = effect["savage_dickey"]
    direction = spec["direction"]
    figures = {}
    if fitted is None:
        reason = f"the rung's prior on the effect is not fixed ({effect['prior']})"
        figures |= {
            key: {"unavailable": reason} for key in ("test_prior", "sensitivity", "replication_bf")
        }
    else:
        test = bf.reweighted_log_bf01(draws, fitted, spec["test_prior"])
        figures["test_prior"] = test
        # A directional hypothesis: the test prior on the predicted side as well.
        figures["test_prior_one_sided"] = (
            bf.reweighted_log_bf01(draws, fitted, one_sided_prior(spec["test_prior"], direction))
            if direction and "truncate" not in spec["test_prior"]
            else None
        )
        unit = abs(float(original["effect"]))
        figures["sensitivity"] = {
            "unit": unit,
            "unit_is": "the original effect",
            "direction": direction,
            "curve": bf.sensitivity_curve(draws, fitted, spec["sensitivity_scales"], unit),
            "one_sided": bf.sensitivity_curve(
                draws, fitted, spec["sensitivity_scales"], unit, direction
            )
            if direction
            else None,
            "fitted_prior": fitted["prior"],
            "fitted_bf01": fitted["bf01"],
        }
        se = original_se(original)
        if se is None:
            figures["replication_bf"] = {
                "unavailable": "the original's standard error is unknown "
                "(give original.se, or t, n1 and n2)"
            }
        else:
            posterior = bf.normal_prior(original["effect"], se)
            two_sided = bf.reweighted_log_bf01(draws, fitted, posterior)
            original_side = "positive" if original["effect"] > 0 else "negative"
            one_sided = bf.reweighted_log_bf01(
                draws, fitted, bf.normal_prior(original["effect"], se, original_side)
            )
            figures["replication_bf"] = {
                "original_posterior": posterior,
                "two_sided": two_sided,
                "one_sided": one_sided if direction else None,
                # BF0r: how much more likely the replication's data are under no effect
                # than under the original study's effect.
                "bf0r": two_sided["bf01"],
                "bfr0": two_sided["bf10"],
            }
    sesoi = spec["sesoi"]
    telescopes = small_telescopes(original, draws)
    if sesoi is None and telescopes is not None:
        sesoi = abs(telescopes["effect_d33"])  # the small-telescopes effect as the SESOI
        sesoi_from = "d33 (small telescopes), as replication.sesoi is not set"
    else:
        sesoi_from = "replication.sesoi" if sesoi is not None else None
    figures["equivalence"] = (equivalence(draws, sesoi) or {}) | {"sesoi_from": sesoi_from}
    figures["small_telescopes"] = telescopes
    return figures


def one_sided_prior(prior: dict, direction: str) -> dict:
    """A prior truncated to the side of zero a directional hypothesis predicts."""
    side = {"lower": 0.0} if direction == "positive" else {"upper": 0.0}
    return {**prior, "truncate": side}


def _evidence(result: dict, against: str) -> str:
    """What a Bayes factor (a reweighted_log_bf01 result) says, in words."""
    bf01, limit = result["bf01"], result.get("bound")
    by = f"more than 10^{bf.BOUND_DIGITS}" if limit else None
    if bf01 > BF_BAND:
        return f"favours no effect over {against} by {by or f'{bf01:.3g}'}"
    if bf01 < 1 / BF_BAND:
        return f"favours {against} over no effect by {by or f'{1 / bf01:.3g}'}"
    return f"is inconclusive between no effect and {against} (BF01 = {bf01:.3g})"


# The conventional band of inconclusive Bayes factors (Jeffreys; Lee & Wagenmakers).
BF_BAND = 3.0


def bf_evidence(test: dict) -> str | None:
    """What the test prior's BF01 says of a non-zero effect: "against" above the band,
    "for" below it, "inconclusive" within; None when there is no reliable figure (a
    bound past the draws' reach is evidence enough)."""
    if test.get("bound"):
        return "for" if test["bound"]["factor"] == "bf10" else "against"
    if "bf01" not in test or not test.get("reliable", True):
        return None
    if test["bf01"] > BF_BAND:
        return "against"
    if test["bf01"] < 1 / BF_BAND:
        return "for"
    return "inconclusive"


def verdict_outcome(effect: dict, original: float, test: dict) -> tuple[str, str]:
    """The verdict's opening words and the evidence they rest on. The interval places the
    effect against zero and against the original; the Bayes factor weighs zero against an
    effect. The words are decisive only when the two agree about zero (or there is no
    reliable Bayes factor): an interval that holds both zero and the original is
    inconclusive, never "does not replicate"."""
    low, high, mean = effect["ci_low"], effect["ci_high"], effect["mean"]
    holds_zero = low <= 0 <= high
    if holds_zero and low <= original <= high:
        return "is inconclusive", "the interval holds both zero and the original effect"
    by_interval = "against" if holds_zero else "for"  # a non-zero effect
    by_bf = bf_evidence(test)
    if by_bf not in (None, by_interval):
        return "is inconclusive", (
            f"the interval {'holds' if holds_zero else 'excludes'} zero but the Bayes factor "
            + ("is inconclusive" if by_bf == "inconclusive" else f"is evidence {by_bf} an effect")
        )
    if holds_zero:
        return "does not replicate", "evidence against the original's effect"
    if math.copysign(1, mean) != math.copysign(1, original):
        return "is reversed", "evidence against the original's effect, of the opposite sign"
    if abs(original) < min(abs(low), abs(high)) or low <= original <= high:
        return "replicates", "evidence for the original's effect"
    return "replicates in direction but not in size", (
        "evidence for an effect, smaller than the original's"
    )


def reliability_note(test: dict) -> str:
    """Why a reweighted Bayes factor is not to be trusted, or nothing when it is (or when
    it is stated as a bound)."""
    if test.get("reliable", True) or test.get("bound"):
        return ""
    mcse = test.get("log_bf01_mcse")
    error = f", Monte Carlo error of log BF01 {mcse:.2g}" if mcse is not None else ""
    return (
        f" (unreliable: the rung's draws do not support it; Pareto k "
        f"{test['pareto_k']:.2f}, {test['weights_ess']:.0f} effective draws{error})"
    )


def _log_bf01(point: dict) -> float:
    return point.get("log_bf01", math.log(point["bf01"]))


def _bf01_value(point: dict) -> str:
    """BF01's figure, or past the draws' reach its bound (`< 10^-6`, `> 10^6`)."""
    if point.get("bound"):
        side = "<" if point["bound"]["factor"] == "bf10" else ">"
        exponent = f"-{bf.BOUND_DIGITS}" if side == "<" else f"{bf.BOUND_DIGITS}"
        return f"{side} 10^{exponent}"
    return f"{point['bf01']:.3g}"


def scale_text(spec: dict, value: float) -> str:
    """What an effect of `value` is on the scale the verdict is given on."""
    scale = spec.get("scale", "outcome")
    if scale == "log":
        return f" on the log scale (a ratio of {math.exp(value):.3g})"
    if scale == "log odds":
        return f" in log odds (an odds ratio of {math.exp(value):.3g})"
    if scale == "latent":
        return " on the latent scale of the ordinal model"
    unit = spec["outcome"]["unit"]
    return f" {unit}" if unit else ""


def verdict_sentence(effect: dict, model: str, spec: dict, figures: dict) -> str:
    """One paragraph: does the original effect replicate, and how sure is that."""
    original = spec["original"]["effect"]
    low, high, mean = effect["ci_low"], effect["ci_high"], effect["mean"]
    test = figures.get("test_prior", {})
    outcome, evidence = verdict_outcome(effect, original, test)
    names = spec.get("labels") or spec.get("contrast")
    what = f"{spec['treatment']}" + (f" ({names[1]} minus {names[0]})" if names else "")
    parts = [
        f"The original effect ({original:g}) {outcome} ({evidence}): the pooled effect of "
        f"{what} is {mean:.2f}{scale_text(spec, mean)} ({100 * spec['ci_prob']:.0f}% CI "
        f"{low:.2f} to {high:.2f}) in the {model} model"
    ]
    if "bf01" in test:
        curve = figures["sensitivity"]["curve"]
        low, high = min(curve, key=_log_bf01), max(curve, key=_log_bf01)
        parts.append(
            f"under the test prior {prior_text(test['prior'])}, {bf.stated(test)}"
            f"{reliability_note(test)} "
            f"(from {_bf01_value(low)} to {_bf01_value(high)} as the prior's scale goes from "
            f"{curve[0]['scale']:g}x to {curve[-1]['scale']:g}x the original effect)"
        )
    directional = figures.get("test_prior_one_sided")
    if directional and "bf01" in directional:
        parts.append(
            f"one-sided, in the predicted direction, {bf.stated(directional)}"
            f"{reliability_note(directional)}"
        )
    replication_bf = figures.get("replication_bf", {})
    if "bf0r" in replication_bf:
        parts.append(
            "the replication Bayes factor "
            + _evidence(replication_bf["two_sided"], "the original's effect")
            + reliability_note(replication_bf.get("two_sided", {}))
        )
    telescopes = figures.get("small_telescopes")
    if telescopes:
        state = "is ruled out" if telescopes["ruled_out"] else "is not ruled out"
        parts.append(f"the small-telescopes effect d33 ({telescopes['effect_d33']:.2f}) {state}")
    equivalent = figures.get("equivalence") or {}
    if "p_inside" in equivalent:
        parts.append(f"P(|effect| < {equivalent['sesoi']:.2f}) = {equivalent['p_inside']:.2f}")
    return "; ".join(parts) + "."


def replication_report(posteriors: dict, priors: dict, ranking: list[str], spec: dict) -> dict:
    results = rung_effects(posteriors, priors, spec)
    model, chosen_because = choose_verdict_model(spec, ranking, list(results))
    effect, draws = results[model]
    figures = test_figures(draws, effect, spec)
    return {
        "treatment": spec["treatment"],
        "contrast": spec.get("contrast"),
        "labels": spec.get("labels") or [str(level) for level in spec.get("contrast") or []],
        "original": spec["original"],
        "published": spec["published"],
        "outcome": spec["outcome"],
        "ci_prob": spec["ci_prob"],
        "verdict_model": model,
        "verdict_model_because": chosen_because,
        "verdict": verdict_sentence(effect, model, spec, figures),
        **figures,
        "models": {name: result for name, (result, _) in results.items()},
    }


def original_sd(original: dict) -> tuple[float, str] | None:
    """The original study's own pooled SD on the outcome's scale, and where it comes
    from: given (original.sd), or for an effect given raw its standard error over
    sqrt(1/n1 + 1/n2) (the two-sample SE's definition)."""
    if "sd" in original:
        return float(original["sd"]), "the original's SD (original.sd)"
    sizes, se = original_group_sizes(original), original_se(original)
    if original.get("unit") == "raw" and sizes is not None and se is not None:
        n1, n2 = sizes
        return se / math.sqrt(1 / n1 + 1 / n2), "the original's SD, from its SE and group sizes"
    return None


def converted_original(original: dict, unit: str, sites_sd: float) -> tuple[dict, dict | None]:
    """The original study in the data's unit (raw, or d/g), and what converting it took:
    the original's own SD where it is known (a d is its effect over its own SD), else the
    SD pooled over the replication's sites' arms, said so. t and the group sizes do not
    change."""
    given = original.get("unit")
    if given is None or (given != "raw") == (unit != "raw"):
        return original, None
    sd, source = original_sd(original) or (sites_sd, "the replication's SD pooled over its sites")
    factor = 1 / sd if given == "raw" else sd
    converted = {**original, "effect": original["effect"] * factor, "unit": unit}
    if "se" in original:
        converted["se"] = original["se"] * factor
    conversion = {
        "from": given,
        "to": unit,
        "sd": sd,
        "sd_from": source,
        "effect_given": original["effect"],
    }
    return converted, conversion


def verdict_spec(spec: dict, sites: pd.DataFrame | None) -> dict:
    """The verdict's spec with the original in the data's unit (converted_original) and
    the test prior filled in: by default a normal with the original effect as its SD."""
    if spec["original"].get("unit") is not None:
        original, conversion = converted_original(
            spec["original"], spec["effect_size"], float(sites["outcome_sd"].iloc[0])
        )
        spec = {**spec, "original": original, "original_conversion": conversion}
    if "test_prior" not in spec:
        spec = {**spec, "test_prior": bf.normal_prior(0.0, abs(float(spec["original"]["effect"])))}
    return spec
