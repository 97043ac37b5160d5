"""Is the effect too small to matter? Equivalence to zero within a smallest effect size of
interest, and Simonsohn's (2015) small-telescopes test.

Small telescopes: d33 is the standardized effect the original study had 33% power to
detect (a two-sided two-sample t-test at alpha = .05 with its group sizes); on the
outcome's scale it is d33 times the original's pooled SD. A replication whose effect is
credibly below it (the one-sided 95% bound on the original's side of zero lies short of
it) says the original study could not have detected an effect of that size: its
telescope was too small.
"""

import math

import numpy as np
from scipy import optimize, stats

ALPHA = 0.05
POWER = 1 / 3


def original_se(original: dict) -> float | None:
    """The original effect's standard error: given, or |effect / t|."""
    if "se" in original:
        return float(original["se"])
    if "t" in original:
        return abs(float(original["effect"]) / float(original["t"]))
    return None


def original_group_sizes(original: dict) -> tuple[int, int] | None:
    if "n1" in original:
        return int(original["n1"]), int(original["n2"])
    if "n" in original:
        n = int(original["n"])
        return n // 2, n - n // 2
    return None


def two_sample_power(d: float, n1: int, n2: int, alpha: float = ALPHA) -> float:
    """Power of a two-sided two-sample t-test for a standardized effect d (noncentral t)."""
    df = n1 + n2 - 2
    noncentrality = d * math.sqrt(n1 * n2 / (n1 + n2))
    critical = stats.t.ppf(1 - alpha / 2, df)
    return float(
        stats.nct.sf(critical, df, noncentrality) + stats.nct.cdf(-critical, df, noncentrality)
    )


def d33(n1: int, n2: int, alpha: float = ALPHA) -> float:
    """The standardized effect a two-sample study of n1 and n2 detects with power 1/3."""
    # Power rises from alpha at d = 0; a noncentrality of 4 gives it well past 1/3 (and
    # keeps SciPy's noncentral t away from where it returns NaN).
    upper = 4 / math.sqrt(n1 * n2 / (n1 + n2))
    return float(optimize.brentq(lambda d: two_sample_power(d, n1, n2, alpha) - POWER, 0.0, upper))


def small_telescopes(original: dict, draws: np.ndarray) -> dict | None:
    """d33 on the outcome's scale and whether the replication's effect rules it out."""
    sizes, se = original_group_sizes(original), original_se(original)
    if sizes is None or se is None:
        return None
    n1, n2 = sizes
    sd = se / math.sqrt(1 / n1 + 1 / n2)  # the original's pooled SD
    sign = 1.0 if original["effect"] > 0 else -1.0
    d = d33(n1, n2)
    threshold = sign * d * sd
    oriented = sign * np.asarray(draws, float).ravel()
    upper = float(np.quantile(oriented, 0.95))  # one-sided 95% bound towards the original
    return {
        "n1": n1,
        "n2": n2,
        "original_sd": sd,
        "d33": d,
        "effect_d33": threshold,
        "upper_bound_95": sign * upper,
        "p_below_d33": float((oriented < d * sd).mean()),
        "ruled_out": bool(upper < d * sd),
    }


def equivalence(draws: np.ndarray, sesoi: float | None) -> dict | None:
    """P(|effect| < SESOI) and the region itself."""
    if sesoi is None:
        return None
    draws = np.asarray(draws, float).ravel()
    inside = float((np.abs(draws) < sesoi).mean())
    return {
        "sesoi": float(sesoi),
        "p_inside": inside,
        "p_above": float((draws >= sesoi).mean()),
        "p_below": float((draws <= -sesoi).mean()),
        "equivalent": bool(inside >= 0.95),
    }
