"""Bayes factors for a zero effect from posterior draws: Savage-Dickey against the prior
the fit used, and against any other prior on the effect by reweighting the same draws.

With H0: effect = 0 nested in H1: effect ~ pi (every other prior shared), the
Savage-Dickey ratio is BF01 = p(0 | y, pi) / pi(0), the posterior density at zero the
mean of the draws' conditional densities there (effect_density). For another prior pi1
on the effect alone, the posterior under pi1 is the fitted one reweighted by pi1/pi0, so that

    BF01(pi1) = BF01(pi0) / Z,    Z = E[ pi1(effect) / pi0(effect) | y, pi0 ],

an identity, estimated from the draws (its Pareto k tells whether the draws cover pi1).
That gives the robustness curve over prior scales, one-sided tests (pi1 truncated to the
predicted direction) and the replication Bayes factor of Verhagen & Wagenmakers (2014),
whose alternative is the original study's posterior, all from one fit.
"""

import math

import numpy as np
from scipy import stats
from scipy.special import logsumexp

from replication_ladder.models.prior_spec import Prior

# Above this Pareto k the importance weights do not support the estimate (Vehtari et al.);
# below this effective number of draws the reweighted posterior is too thin to trust.
RELIABLE_K = 0.7
RELIABLE_ESS = 200
# The density at zero: a Monte Carlo error of its log above this is not a figure to state
# (0.1 on the log scale is the accuracy the verdict is held to against closed forms).
RELIABLE_LOG_MCSE = 0.1
NEGLIGIBLE_SPREAD = 1e-3  # terms' SD relative to their mean
# An unreliable Bayes factor beyond 10^6 either way is reported as that bound.
BOUND_DIGITS = 6


def normal_prior(mu: float, sigma: float, direction: str | None = None) -> dict:
    """A normal prior, truncated to one side of zero for a directional test."""
    prior = {"dist": "Normal", "mu": float(mu), "sigma": float(sigma)}
    if direction == "positive":
        prior["truncate"] = {"lower": 0.0}
    elif direction == "negative":
        prior["truncate"] = {"upper": 0.0}
    return prior


def density_at_zero(log_terms) -> dict:
    """log p(effect = 0 | y): the mean of the draws' conditional densities at zero
    (effect_density), with how far it can be trusted: the terms' Pareto k (Vehtari et al.
    2024: a mean carried by a few draws has a heavy right tail), their effective number
    over the chains, and the Monte Carlo error of the log by the delta method.
    `log_terms` is a (chain, draw) DataArray."""
    import arviz_stats
    import xarray as xr

    values = np.asarray(log_terms, dtype=float).reshape(np.shape(log_terms)[0], -1)
    flat = values.ravel()
    log_density = float(logsumexp(flat) - math.log(flat.size))
    terms = np.exp(values - flat.max())
    if terms.std() < NEGLIGIBLE_SPREAD * terms.mean():
        # Terms all but equal (the rest integrated out as well): no tail to fit, and the
        # mean is known to that precision whatever the draws' autocorrelation.
        pareto_k, ess = 0.0, float(flat.size)
    else:
        pareto_k = tail_shape(flat)
        chains = xr.DataArray(terms / terms.mean(), dims=("chain", "draw"))
        ess = float(arviz_stats.ess(chains, method="mean"))
    spread = terms.std(ddof=1) if flat.size > 1 else 0.0
    mcse = float(spread / (terms.mean() * math.sqrt(max(ess, 1.0))))
    return {
        "log_density": log_density,
        "pareto_k": pareto_k,
        "terms_ess": ess,
        "log_density_mcse": mcse,
        "method": log_terms.attrs.get("method"),
        "draws": int(flat.size),
        "reliable": bool(
            math.isfinite(pareto_k) and pareto_k <= RELIABLE_K and mcse <= RELIABLE_LOG_MCSE
        ),
    }


def savage_dickey(log_terms, prior: dict, value: float = 0.0) -> dict:
    """BF01 for effect = value against `prior`, the prior the draws were fitted with: the
    posterior density at `value` (density_at_zero) over the prior's exact density there.
    Past what the draws can support (an unreliable density at a figure beyond
    10^BOUND_DIGITS), the factor is a bound, not a number (`bound`)."""
    density = density_at_zero(log_terms)
    log_bf01 = density["log_density"] - float(Prior(prior).log_density(value))
    return {**factor(prior, log_bf01), "density": density, "reliable": density["reliable"]} | bound(
        log_bf01, density["reliable"]
    )


def bound(log_bf01: float, reliable: bool) -> dict:
    """An unreliable figure beyond 10^BOUND_DIGITS either way is stated as that bound."""
    limit = BOUND_DIGITS * math.log(10)
    if reliable or abs(log_bf01) < limit:
        return {"bound": None}
    side = "bf10" if log_bf01 < 0 else "bf01"
    return {"bound": {"factor": side, "above": 10.0**BOUND_DIGITS}}


def stated(result: dict) -> str:
    """A Bayes factor as the verdict states it: `BF01 = 0.034`, or past the draws' reach
    its bound, `BF10 > 10^6`."""
    if result.get("bound"):
        return f"{result['bound']['factor'].upper()} > 10^{BOUND_DIGITS}"
    return f"BF01 = {result['bf01']:.3g}"


def factor(prior: dict, log_bf01: float) -> dict:
    """A Bayes factor for effect = 0 against `prior`, both ways."""
    return {"prior": prior, "log_bf01": log_bf01, "bf01": _exp(log_bf01), "bf10": _exp(-log_bf01)}


def reweighted_log_bf01(draws: np.ndarray, fitted: dict, prior: dict) -> dict:
    """log BF01 against `prior`, from draws fitted under `fitted["prior"]`: the fitted
    log BF01 (savage_dickey) minus log Z, with the Pareto k of the weights pi1/pi0. It is
    reliable when both the weights and the fitted density at zero are."""
    draws = np.asarray(draws, dtype=float).ravel()
    log_ratio = Prior(prior).log_density(draws) - Prior(fitted["prior"]).log_density(draws)
    log_z = float(logsumexp(log_ratio) - math.log(draws.size))
    finite = np.isfinite(log_ratio)
    pareto_k = float("nan")
    if finite.any() and np.ptp(log_ratio[finite]) < 1e-12:
        # The same prior where both have support (a test prior may be the fitted one
        # truncated to a side): equal weights on the draws it keeps, no tail to fit.
        pareto_k = 0.0
    else:
        pareto_k = tail_shape(log_ratio[finite])
    log_bf01 = fitted["log_bf01"] - log_z
    weights = np.exp(log_ratio - log_ratio[finite].max()) if finite.any() else np.zeros(draws.size)
    ess = float(weights.sum() ** 2 / (weights**2).sum()) if weights.any() else 0.0
    # Monte Carlo error of log Z (so of log BF01, the fitted figure's aside), by the delta
    # method: sd(w) / (mean(w) sqrt(S)), the draws taken as independent.
    density_mcse = fitted["density"]["log_density_mcse"]
    mcse = (
        float(
            math.hypot(weights.std(ddof=1) / (weights.mean() * math.sqrt(draws.size)), density_mcse)
        )
        if weights.any()
        else None
    )
    # Of a short run, a quarter of its draws is as much as can be asked.
    reliable = bool(
        fitted["reliable"]
        and math.isfinite(pareto_k)
        and pareto_k <= RELIABLE_K
        and ess >= min(RELIABLE_ESS, draws.size / 4)
    )
    return {
        **factor(prior, log_bf01),
        "pareto_k": pareto_k,
        "weights_ess": ess,
        "log_bf01_mcse": mcse,
        "reliable": reliable,
        "draws_in_support": int(finite.sum()),
    } | bound(log_bf01, reliable)


def tail_shape(log_values: np.ndarray) -> float:
    """The Pareto k of a mean of exp(log_values): the shape of their largest values'
    generalized Pareto tail, as PSIS fits it (NaN for fewer than 25 values)."""
    from replication_ladder.scoring.psis import psis_log_weights

    if log_values.size < 25:
        return float("nan")
    _, k = psis_log_weights(-np.asarray(log_values)[:, None], r_eff=1.0)
    return float(k[0])


def _exp(log_value: float) -> float:
    return math.exp(min(max(log_value, -700.0), 700.0))  # JSON has no infinity


def sensitivity_curve(
    draws: np.ndarray,
    fitted: dict,
    scales: list[float],
    unit: float,
    direction: str | None = None,
) -> list[dict]:
    """BF01 for normal priors centred on zero with SD `scale * unit` (JASP's robustness
    check, the unit being the original effect)."""
    return [
        {
            "scale": float(scale),
            "sd": float(scale * unit),
            **reweighted_log_bf01(draws, fitted, normal_prior(0.0, scale * unit, direction)),
        }
        for scale in scales
    ]


# -- closed forms, for the tests and for a normal likelihood ------------------------------


def normal_marginal_log_bf01(mean: float, se: float, prior: dict) -> float:
    """log BF01 when the data's information on the effect is a normal likelihood (mean,
    se) and the alternative's prior is normal, possibly truncated at zero: exact."""
    mu, tau = prior["mu"], prior["sigma"]
    null = stats.norm.logpdf(mean, 0.0, se)
    alternative = stats.norm.logpdf(mean, mu, math.hypot(se, tau))
    bounds = Prior(prior).bounds
    if bounds is not None:
        # Truncation at zero: the alternative's marginal is reweighted by the posterior
        # mass of the allowed side over the prior mass of it.
        post_var = 1 / (1 / se**2 + 1 / tau**2)
        post_mean = post_var * (mean / se**2 + mu / tau**2)
        sign = 1.0 if bounds[0] == 0.0 else -1.0
        posterior_mass = stats.norm.logsf(0.0, sign * post_mean, math.sqrt(post_var))
        prior_mass = stats.norm.logsf(0.0, sign * mu, tau)
        alternative += posterior_mass - prior_mass
    return float(null - alternative)
