"""How clustered the data are: the intraclass correlation of the outcome within a grouping
(participants who rated several stimuli) and the design effect it implies, the factor
by which treating the rows as independent understates a mean's variance."""

import numpy as np
import pandas as pd


def intraclass_correlation(values: pd.Series, groups: pd.Series) -> dict:
    """ICC(1) from a one-way ANOVA (Shrout & Fleiss), with k0 the size of an average group
    for unbalanced data; the design effect 1 + (k - 1) ICC with k the mean group size."""
    frame = pd.DataFrame({"y": np.asarray(values, float), "g": np.asarray(groups)}).dropna()
    sizes = frame.groupby("g")["y"].size()
    n, a = len(frame), len(sizes)
    if a < 2 or n <= a:
        return {"icc": None, "design_effect": None, "groups": a, "mean_group_size": None}
    means = frame.groupby("g")["y"].transform("mean")
    grand = frame["y"].mean()
    between = ((frame.groupby("g")["y"].mean() - grand) ** 2 * sizes).sum() / (a - 1)
    within = ((frame["y"] - means) ** 2).sum() / (n - a)
    k0 = (n - (sizes**2).sum() / n) / (a - 1)
    icc = float((between - within) / (between + (k0 - 1) * within))
    k = n / a
    return {
        "icc": icc,
        "design_effect": float(1 + (k - 1) * icc),
        "groups": int(a),
        "mean_group_size": float(k),
    }


def site_design_effect_of_treatment(se, tau2: float) -> float:
    """How much the sites' heterogeneity widens the variance of a treatment effect that is
    randomised within sites: the random-effects variance 1 / sum 1/(se_k^2 + tau^2) over
    the fixed-effect one 1 / sum 1/se_k^2. Site intercepts cancel in such a contrast, so
    only the spread of the effect across sites (tau) counts, not the outcome's ICC."""
    variance = np.asarray(se, float) ** 2
    return float((1 / variance).sum() / (1 / (variance + tau2)).sum())
