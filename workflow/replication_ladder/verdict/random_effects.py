"""The frequentist random-effects meta-analysis of the site estimates, as metafor's
`rma(yi, sei = se, method = "REML")` computes it: the independent reference beside the
Bayesian two-stage rung.

    effect_k ~ Normal(mu, sqrt(se_k^2 + tau^2))

tau^2 by restricted maximum likelihood (Fisher scoring, Viechtbauer 2005), mu by
weighted least squares with weights 1 / (se_k^2 + tau^2), Wald intervals, I^2 and H^2
from the typical within-site variance (Higgins & Thompson 2002), Cochran's Q, and the
prediction interval of a new site's effect mu +/- z sqrt(se(mu)^2 + tau^2).

Written here: statsmodels' combine_effects offers DerSimonian-Laird and Paule-Mandel but
not REML, the estimator the RRR and metafor report; PyMARE has REML but would add a
dependency (and its own) for one short estimator.
"""

import math

import numpy as np
from scipy import stats

MAX_ITERATIONS = 100
TOLERANCE = 1e-10  # metafor's threshold on the change of tau^2


def reml_tau2(effect: np.ndarray, variance: np.ndarray) -> tuple[float, int]:
    """tau^2 by Fisher scoring on the restricted likelihood, truncated at zero, and the
    iterations it took."""
    tau2 = max(0.0, float(np.var(effect, ddof=1) - variance.mean()))
    for iteration in range(1, MAX_ITERATIONS + 1):
        weights = 1.0 / (variance + tau2)
        # P = W - w w' / sum(w): the residual-making matrix of the weighted mean.
        projection = np.diag(weights) - np.outer(weights, weights) / weights.sum()
        residual = projection @ effect
        step = (residual @ residual - np.trace(projection)) / np.trace(projection @ projection)
        updated = max(0.0, tau2 + float(step))
        if abs(updated - tau2) < TOLERANCE:
            return updated, iteration
        tau2 = updated
    raise ArithmeticError(f"REML did not converge in {MAX_ITERATIONS} iterations")


def random_effects(effect, se, ci_prob: float = 0.95) -> dict:
    """The REML random-effects summary of `effect` with known standard errors `se`."""
    effect = np.asarray(effect, dtype=float)
    variance = np.asarray(se, dtype=float) ** 2
    k = effect.size
    if k < 2:
        raise ValueError(f"a random-effects meta-analysis needs 2 or more sites, not {k}")
    tau2, iterations = reml_tau2(effect, variance)
    weights = 1.0 / (variance + tau2)
    mu = float((weights * effect).sum() / weights.sum())
    mu_se = math.sqrt(1.0 / weights.sum())
    z = float(stats.norm.ppf(0.5 + ci_prob / 2))
    fixed_weights = 1.0 / variance
    fixed_mu = (fixed_weights * effect).sum() / fixed_weights.sum()
    q = float((fixed_weights * (effect - fixed_mu) ** 2).sum())
    typical = (k - 1) * fixed_weights.sum() / (fixed_weights.sum() ** 2 - (fixed_weights**2).sum())
    spread = math.sqrt(mu_se**2 + tau2)
    return {
        "method": "REML",
        "sites": k,
        "estimate": mu,
        "se": mu_se,
        "ci_low": mu - z * mu_se,
        "ci_high": mu + z * mu_se,
        "tau2": tau2,
        "tau": math.sqrt(tau2),
        "i2": 100.0 * tau2 / (tau2 + typical),
        "h2": (tau2 + typical) / typical,
        "q": q,
        "q_p": float(stats.chi2.sf(q, k - 1)),
        "pi_low": mu - z * spread,
        "pi_high": mu + z * spread,
        "ci_prob": ci_prob,
        "iterations": iterations,
    }
