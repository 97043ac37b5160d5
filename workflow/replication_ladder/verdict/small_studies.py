"""Egger's regression test of funnel-plot asymmetry (Egger et al. 1997), as metafor's
`regtest(rma(yi, sei = se, method = "FE"), model = "lm")` computes it: the effects
regressed on their standard errors by weighted least squares (weights 1 / se^2, a free
residual scale); a slope far from zero means small sites report other effects than
large ones. Written here: statsmodels' WLS gives the same figures but would be a
dependency for eight lines; the test holds it to metafor.

What it can show for a pre-registered multi-lab replication: every lab's result is
reported whatever it is, so there is no publication bias to find; an asymmetry there
means that the effect differs with the lab's size (its sample, its population), and with
17 labs the test has little power either way.
"""

import numpy as np
from scipy import stats


def egger_test(effect, se) -> dict:
    """The slope on the standard error (Egger's asymmetry), its t test with k - 2
    degrees of freedom, and the intercept (the effect of a site of infinite size)."""
    effect, se = np.asarray(effect, dtype=float), np.asarray(se, dtype=float)
    k = effect.size
    if k < 3:
        raise ValueError(f"Egger's test needs 3 or more sites, not {k}")
    design = np.column_stack([np.ones(k), se])
    weights = 1 / se**2
    gram = design.T @ (weights[:, None] * design)
    coefficients = np.linalg.solve(gram, design.T @ (weights * effect))
    residuals = effect - design @ coefficients
    scale = float((weights * residuals**2).sum() / (k - 2))
    errors = np.sqrt(np.diag(np.linalg.inv(gram)) * scale)
    t = float(coefficients[1] / errors[1])
    return {
        "slope": float(coefficients[1]),
        "slope_se": float(errors[1]),
        "t": t,
        "df": k - 2,
        "p": float(2 * stats.t.sf(abs(t), k - 2)),
        "limit_estimate": float(coefficients[0]),
    }
