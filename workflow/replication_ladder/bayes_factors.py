"""Bayes factors for a zero effect from posterior draws: Savage-Dickey against the prior
the fit used, and against any other prior on the effect by reweighting the same draws.

With H0: effect = 0 nested in H1: effect ~ pi (every other prior shared), the
Savage-Dickey ratio is BF01 = p(0 | y, pi) / pi(0). For another prior pi1 on the effect
alone, the posterior under pi1 is the fitted one reweighted by pi1/pi0, so that

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

from replication_ladder.prior import Prior

# Above this Pareto k the importance weights do not support the estimate (Vehtari et al.);
# below this effective number of draws the reweighted posterior is too thin to trust.
RELIABLE_K = 0.7
RELIABLE_ESS = 200


def normal_prior(mu: float, sigma: float, direction: str | None = None) -> dict:
    """A normal prior, truncated to one side of zero for a directional test."""
    prior = {"dist": "Normal", "mu": float(mu), "sigma": float(sigma)}
    if direction == "positive":
        prior["truncate"] = {"lower": 0.0}
    elif direction == "negative":
        prior["truncate"] = {"upper": 0.0}
    return prior


def savage_dickey(draws: np.ndarray, prior: dict, value: float = 0.0, seed: int = 0) -> dict:
    """BF01 for effect = value against `prior`, the prior the draws were fitted with.

    ArviZ's `bayes_factor` estimates both densities at `value` by KDE (the prior's from
    draws of it); the prior's density is known exactly, so the headline figure divides
    ArviZ's posterior density by it. ArviZ's own ratio is kept beside it as a check."""
    import xarray as xr
    from arviz_stats import bayes_factor

    draws = np.asarray(draws, dtype=float).ravel()
    tree = xr.DataTree.from_dict(
        {"posterior": xr.Dataset({"effect": (("chain", "draw"), draws[None, :])})}
    )
    prior_set = xr.Dataset({"effect": (("chain", "draw"), Prior(prior).draws(seed)[None, :])})
    factors, densities = bayes_factor(
        tree, "effect", ref_vals=float(value), return_ref_vals=True, prior=prior_set
    )
    posterior_density = float(densities["effect"].sel(density_type="posterior").values)
    log_bf01 = math.log(posterior_density) - float(Prior(prior).log_density(value))
    return {
        **factor(prior, log_bf01),
        "posterior_density_at_zero": posterior_density,
        "bf01_arviz_kde": float(factors["effect"].sel(bf_type="BF01").values),
    }


def factor(prior: dict, log_bf01: float) -> dict:
    """A Bayes factor for effect = 0 against `prior`, both ways."""
    return {"prior": prior, "log_bf01": log_bf01, "bf01": _exp(log_bf01), "bf10": _exp(-log_bf01)}


def reweighted_log_bf01(
    draws: np.ndarray, fitted_prior: dict, fitted_log_bf01: float, prior: dict
) -> dict:
    """log BF01 against `prior`, from draws fitted under `fitted_prior`: the fitted
    log BF01 minus log Z, with the Pareto k of the weights pi1/pi0."""
    from replication_ladder.psis import psis_log_weights

    draws = np.asarray(draws, dtype=float).ravel()
    log_ratio = Prior(prior).log_density(draws) - Prior(fitted_prior).log_density(draws)
    log_z = float(logsumexp(log_ratio) - math.log(draws.size))
    finite = np.isfinite(log_ratio)
    pareto_k = float("nan")
    if finite.any() and np.ptp(log_ratio[finite]) < 1e-12:
        # The same prior where both have support (a test prior may be the fitted one
        # truncated to a side): equal weights on the draws it keeps, no tail to fit.
        pareto_k = 0.0
    elif finite.sum() >= 25:
        _, k = psis_log_weights(-log_ratio[finite][:, None], r_eff=1.0)
        pareto_k = float(k[0])
    log_bf01 = fitted_log_bf01 - log_z
    weights = np.exp(log_ratio - log_ratio[finite].max()) if finite.any() else np.zeros(draws.size)
    ess = float(weights.sum() ** 2 / (weights**2).sum()) if weights.any() else 0.0
    # Monte Carlo error of log Z (so of log BF01, the fitted figure's aside), by the delta
    # method: sd(w) / (mean(w) sqrt(S)), the draws taken as independent.
    mcse = (
        float(weights.std(ddof=1) / (weights.mean() * math.sqrt(draws.size)))
        if weights.any()
        else None
    )
    return {
        **factor(prior, log_bf01),
        "pareto_k": pareto_k,
        "weights_ess": ess,
        "log_bf01_mcse": mcse,
        # Of a short run, a quarter of its draws is as much as can be asked.
        "reliable": bool(
            math.isfinite(pareto_k)
            and pareto_k <= RELIABLE_K
            and ess >= min(RELIABLE_ESS, draws.size / 4)
        ),
        "draws_in_support": int(finite.sum()),
    }


def _exp(log_value: float) -> float:
    return math.exp(min(max(log_value, -700.0), 700.0))  # JSON has no infinity


def sensitivity_curve(
    draws: np.ndarray,
    fitted_prior: dict,
    fitted_log_bf01: float,
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
            **reweighted_log_bf01(
                draws, fitted_prior, fitted_log_bf01, normal_prior(0.0, scale * unit, direction)
            ),
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
