"""A site's effect and its sampling variance from the summaries of two arms, in the unit
the config chooses (`datasets.<name>.effect_size`), as metafor's `escalc` computes them:

  raw   the mean difference, treatment minus control (escalc "MD"):
        var = sd1^2 / n1 + sd0^2 / n0
  d     Cohen's d, the difference over the pooled SD:
        var = 1/n1 + 1/n0 + d^2 / (2 (n1 + n0))
  g     Hedges' g = J d with J the exact small-sample correction
        Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2)), m = n1 + n0 - 2 (escalc "SMD"):
        var = 1/n1 + 1/n0 + g^2 / (2 (n1 + n0))   (escalc's default, vtype "LS")

From a t statistic and the two n, d = t sqrt(1/n1 + 1/n0) (escalc's `ti`; an F of two
arms is t squared, so t = sign sqrt(F)); the raw difference needs the SDs. Written here rather than taken from a library: statsmodels
has no Hedges' correction with escalc's variance, and these are four lines each; the
test holds them to metafor's `escalc` on the same numbers.
"""

import numpy as np
from scipy.special import gammaln

UNITS = ("raw", "d", "g", "dz", "dav", "logOR", "logRR", "z", "given")
LABELS = {
    "raw": "mean difference",
    "d": "Cohen's d",
    "g": "Hedges' g",
    "dz": "d_z (standardized by the SD of the differences)",
    "dav": "d_av (standardized by the conditions' average SD)",
    "logOR": "log odds ratio",
    "logRR": "log risk ratio",
    "z": "Fisher's z of a correlation",
    "given": "the effect as the file gives it",
}
# The units a summary file's form can give (summary.SUMMARY_FORMS).
FORM_UNITS = {
    "arms": ("raw", "d", "g"),
    "counts": ("logOR", "logRR"),
    "t": ("d", "g"),
    "F": ("d", "g"),
}
WITHIN_UNITS = ("raw", "dz", "dav")  # a within-participant design's


def pooled_sd(sd1, sd0, n1, n0) -> np.ndarray:
    """The SD pooled over both arms, with n - 1 weights."""
    sd1, sd0, n1, n0 = (np.asarray(v, dtype=float) for v in (sd1, sd0, n1, n0))
    return np.sqrt(((n1 - 1) * sd1**2 + (n0 - 1) * sd0**2) / (n1 + n0 - 2))


def hedges_j(n1, n0) -> np.ndarray:
    """The exact small-sample correction of d (Hedges 1981), as metafor's .cmicalc."""
    m = np.asarray(n1, dtype=float) + np.asarray(n0, dtype=float) - 2
    return np.exp(gammaln(m / 2) - 0.5 * np.log(m / 2) - gammaln((m - 1) / 2))


def standardized(d, n1, n0, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """d or g and its large-sample variance, from Cohen's d."""
    d, n1, n0 = (np.asarray(v, dtype=float) for v in (d, n1, n0))
    effect = hedges_j(n1, n0) * d if unit == "g" else d
    return effect, 1 / n1 + 1 / n0 + effect**2 / (2 * (n1 + n0))


def from_arms(mean1, sd1, n1, mean0, sd0, n0, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """(effect, standard error) per site from each arm's mean, SD and n."""
    mean1, sd1, n1, mean0, sd0, n0 = (
        np.asarray(v, dtype=float) for v in (mean1, sd1, n1, mean0, sd0, n0)
    )
    if unit == "raw":
        return mean1 - mean0, np.sqrt(sd1**2 / n1 + sd0**2 / n0)
    effect, variance = standardized((mean1 - mean0) / pooled_sd(sd1, sd0, n1, n0), n1, n0, unit)
    return effect, np.sqrt(variance)


def difference_sd(sd1, sd0, r) -> np.ndarray:
    """The SD of paired differences from each condition's SD and their correlation."""
    sd1, sd0, r = (np.asarray(v, dtype=float) for v in (sd1, sd0, r))
    return np.sqrt(sd1**2 + sd0**2 - 2 * r * sd1 * sd0)


def paired_standardizer(sd1, sd0, r, n, unit: str) -> np.ndarray:
    """The SD a paired effect is standardized by, pooled over sites with n - 1 weights:
    the differences' for dz, the conditions' average for dav and raw."""
    sd1, sd0, n = (np.asarray(v, dtype=float) for v in (sd1, sd0, n))
    per_site = difference_sd(sd1, sd0, r) if unit == "dz" else np.sqrt((sd1**2 + sd0**2) / 2)
    return np.sqrt(((n - 1) * per_site**2).sum() / (n - 1).sum())


def from_pairs(mean1, sd1, mean0, sd0, r, n, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """(effect, standard error) per site of a within-participant design, n participants
    in both conditions with correlation r, as escalc computes them:
      raw  the mean difference, var sd_diff^2 / n ("MC")
      dz   J(n - 1) diff / sd_diff, var 1/n + dz^2 / (2n) ("SMCC")
      dav  J(n - 1) diff / sqrt((sd1^2 + sd0^2) / 2), var 2(1 - r)/n + dav^2 / (2n)
           ("SMCR" with that SD as its standardizer)."""
    mean1, sd1, mean0, sd0, r, n = (
        np.asarray(v, dtype=float) for v in (mean1, sd1, mean0, sd0, r, n)
    )
    difference, sd_diff = mean1 - mean0, difference_sd(sd1, sd0, r)
    if unit == "raw":
        return difference, sd_diff / np.sqrt(n)
    j = hedges_j(n, np.ones_like(n))  # metafor's .cmicalc(n - 1)
    if unit == "dz":
        effect = j * difference / sd_diff
        return effect, np.sqrt(1 / n + effect**2 / (2 * n))
    if unit == "dav":
        effect = j * difference / np.sqrt((sd1**2 + sd0**2) / 2)
        return effect, np.sqrt(2 * (1 - r) / n + effect**2 / (2 * n))
    raise ValueError(f"a within-participant effect is raw, dz or dav, not {unit!r}")


def from_t(t, n1, n0, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """(effect, standard error) of d or g from a two-sample t and the arms' n."""
    if unit == "raw":
        raise ValueError("a t statistic gives a standardized effect (d or g), not a raw one")
    n1, n0 = np.asarray(n1, dtype=float), np.asarray(n0, dtype=float)
    effect, variance = standardized(
        np.asarray(t, dtype=float) * np.sqrt(1 / n1 + 1 / n0), n1, n0, unit
    )
    return effect, np.sqrt(variance)


def from_counts(events1, n1, events0, n0, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """(effect, standard error) per site from each arm's events and size (a 2x2 table),
    as escalc computes them with its default correction (a half added to every cell of a
    site with an empty one, to="only0"):
      logOR  log((a d) / (b c)), var 1/a + 1/b + 1/c + 1/d
      logRR  log((a / n1) / (c / n0)), var 1/a - 1/n1 + 1/c - 1/n0."""
    a, n1, c, n0 = (np.asarray(v, dtype=float) for v in (events1, n1, events0, n0))
    b, d = n1 - a, n0 - c
    empty = (np.stack([a, b, c, d]) == 0).any(axis=0)
    a, b, c, d = (cell + 0.5 * empty for cell in (a, b, c, d))
    n1, n0 = a + b, c + d
    if unit == "logOR":
        return np.log(a * d / (b * c)), np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    if unit == "logRR":
        return np.log((a / n1) / (c / n0)), np.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n0)
    raise ValueError(f"counts give a log odds or risk ratio, not {unit!r}")
