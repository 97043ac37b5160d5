"""The meta-analyst's figures, as pure functions (data in, figure out): the forest plot
as metafor draws it, the prior sensitivity of the inclusion Bayes factors, and the
funnel plot. ArviZ's forest plot shows posteriors, not observed effects with their
known standard errors beside a pooled diamond; metafor's layout is the field's."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from replication_ladder.report.figures import MODEL_COLORS, REFERENCE_COLOR, TRUE_COLOR


def _diamond(ax, y: float, summary: dict, color, label: str):
    low, mean, high = summary["ci_low"], summary["mean"], summary["ci_high"]
    ax.fill([low, mean, high, mean], [y, y + 0.35, y, y - 0.35], color=color, label=label)


def meta_forest(
    sites: pd.DataFrame,
    shrunken: pd.DataFrame | None,
    averaged: dict,
    original: float | None,
    effect_label: str,
    ci_prob: float,
):
    """Each site's observed effect and interval (square sized by its weight 1/se^2), its
    shrunken estimate under the random-effects model, the model-averaged effect (a
    diamond) with the prediction interval of a new site (a bar), and the original."""
    z = stats.norm.ppf(0.5 + ci_prob / 2)
    k = len(sites)
    y = np.arange(k)[::-1] + 2
    fig, ax = plt.subplots(figsize=(7, 0.3 * k + 2.2), layout="constrained")
    weights = 1 / sites["se"].to_numpy() ** 2
    ax.hlines(y, sites["effect"] - z * sites["se"], sites["effect"] + z * sites["se"], color="k")
    ax.scatter(sites["effect"], y, marker="s", s=80 * weights / weights.max(), color="k")
    if shrunken is not None:
        part = shrunken.set_index("site").reindex(sites["site"].astype(str))
        ax.errorbar(
            part["mean"],
            y - 0.3,
            xerr=[part["mean"] - part["ci_low"], part["ci_high"] - part["mean"]],
            fmt="o",
            markersize=3,
            color=MODEL_COLORS[0],
            elinewidth=0.8,
            label="shrunken (random effects)",
        )
    _diamond(ax, 0.5, averaged["effect"], MODEL_COLORS[1], "model-averaged effect, if any")
    prediction = averaged["prediction"]
    ax.hlines(-0.3, prediction["ci_low"], prediction["ci_high"], color=MODEL_COLORS[1], lw=3)
    ax.axvline(0, color="0.6", linewidth=0.8, linestyle="--")
    if original is not None:
        ax.axvline(original, color=TRUE_COLOR, linewidth=1, label="original study")
    ax.set_yticks([*y, 0.5, -0.3], [*sites["site"].astype(str), "averaged, if any", "new site"])
    ax.set_xlabel(f"{effect_label} ({100 * ci_prob:.0f}% intervals)")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    ax.set_title("Forest plot")
    return fig


def inclusion_sensitivity(rows: pd.DataFrame):
    """The inclusion Bayes factors of the effect and of heterogeneity as the priors'
    scales vary: a line per scale of tau's prior, against the effect prior's scale."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    for ax, column, title in zip(
        axes,
        ("effect_bf10", "heterogeneity_bf"),
        ("effect: BF10 (inclusion)", "heterogeneity: BF (inclusion)"),
        strict=True,
    ):
        for (tau_scale, part), color in zip(rows.groupby("tau_scale"), MODEL_COLORS, strict=False):
            ax.plot(
                part["effect_scale"], part[column], "o-", color=color, label=f"tau x{tau_scale:g}"
            )
        ax.axhline(1, color=REFERENCE_COLOR, linewidth=0.8)
        for band in (1 / 3, 3):
            ax.axhline(band, color="0.7", linewidth=0.8, linestyle=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        scales = sorted(rows["effect_scale"].unique())
        ax.set_xticks(scales, [f"{scale:g}" for scale in scales])
        ax.minorticks_off()
        ax.set_xlabel("scale of the effect's prior (x stated)")
        ax.set_title(title, fontsize=10)
    axes[0].set_ylabel("Bayes factor")
    axes[1].legend(frameon=False, fontsize=8)
    return fig


def funnel(sites: pd.DataFrame, pooled: float, test: dict | None, effect_label: str):
    """Effects against their standard errors (reversed: large sites on top), with the
    pseudo-confidence region pooled +/- 1.96 se, and Egger's test in the title."""
    fig, ax = plt.subplots(figsize=(5.5, 4), layout="constrained")
    top = float(sites["se"].max()) * 1.1
    se = np.linspace(0, top, 50)
    ax.fill_betweenx(se, pooled - 1.96 * se, pooled + 1.96 * se, color="0.92")
    ax.plot([pooled, pooled], [0, top], color=REFERENCE_COLOR, linewidth=0.8)
    ax.scatter(sites["effect"], sites["se"], color="k", s=14)
    ax.set_ylim(top, 0)
    ax.set_xlabel(effect_label)
    ax.set_ylabel("standard error")
    title = "Funnel plot"
    if test is not None:
        title += f": Egger's test t({test['df']}) = {test['t']:.2f}, p = {test['p']:.2f}"
    ax.set_title(title, fontsize=10)
    return fig
