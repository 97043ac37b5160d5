"""The report's figures as pure functions: data in, a matplotlib figure out (the
arviz-plots way). Saving and showing them is the report object's job."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

LAYOUT = {"layout": "constrained"}  # arviz_plots' grids otherwise overlap their titles
TRUE_COLOR = "#d62728"  # true values in red, as in the Bambi chapter's logistic example
REFERENCE_COLOR = "0.3"
MODEL_COLORS = plt.get_cmap("tab10").colors


def bins(values: np.ndarray):
    """One bin per value for a rating scale, else 40."""
    values = np.asarray(values, dtype=float)
    unique = np.unique(values[np.isfinite(values)])
    if unique.size <= 30 and np.allclose(unique, np.round(unique)):
        return np.arange(unique.min() - 0.5, unique.max() + 1.5)
    return 40


def outcome_histogram(groups: list[tuple[str, np.ndarray]], label: str, title: str):
    """The outcome's distribution, one histogram per group (the conditions)."""
    fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
    edges = bins(np.concatenate([values for _, values in groups]))
    for (name, values), color in zip(groups, MODEL_COLORS, strict=False):
        ax.hist(values, bins=edges, alpha=0.5, density=True, label=name, color=color)
    ax.set_xlabel(label)
    ax.set_ylabel("density")
    ax.legend(frameon=False)
    ax.set_title(title)
    return fig


def is_discrete(values: np.ndarray) -> bool:
    return bool(np.all(np.mod(values, 1) == 0))


def posterior_predictive(observed: np.ndarray, replicated: np.ndarray, label: str, title: str):
    """ArviZ's posterior predictive check of the outcome: a rootogram (observed and
    replicated counts per value, square-root axis) when the outcome and its replicates
    are whole numbers (ordinal ratings, counts, binary); the observed distribution over
    those of the replicated datasets otherwise, as ECDFs when only the outcome is whole
    numbers (a KDE of ratings is a row of spikes) and as densities when neither is.
    `replicated` is (draw, row)."""
    import arviz_plots as azp
    import xarray as xr

    observed = np.asarray(observed, dtype=float)
    discrete = is_discrete(observed) and is_discrete(replicated)
    kind = np.int64 if discrete else np.float64
    tree = xr.DataTree.from_dict(
        {
            "/posterior_predictive": xr.Dataset(
                {"y": (("chain", "draw", "row"), replicated[None].astype(kind))}
            ),
            "/observed_data": xr.Dataset({"y": (("row",), observed.astype(kind))}),
        }
    )
    if discrete:
        pc = azp.plot_ppc_rootogram(tree, backend="matplotlib", figure_kwargs=LAYOUT)
    else:
        kind = "ecdf" if is_discrete(observed) else "kde"
        pc = azp.plot_ppc_dist(tree, kind=kind, backend="matplotlib", figure_kwargs=LAYOUT)
    fig = _figure(pc)
    fig.axes[0].set_title(title)
    fig.axes[0].set_xlabel(label)
    return fig


def _figure(plot_collection):
    """The matplotlib figure behind an arviz_plots PlotCollection."""
    return plot_collection.viz["figure"].item()


def trace(tree, var_names: list[str]):
    import arviz_plots as azp

    pc = azp.plot_trace(tree, var_names=var_names, backend="matplotlib", figure_kwargs=LAYOUT)
    return _figure(pc)


def power_scaling(tree, var_names: list[str]):
    """ArviZ's prior and likelihood sensitivity: each variable's posterior with the prior
    (left) or the likelihood (right) raised to the powers 0.8 and 1.25, by importance
    weighting (the numbers are the psense table beside it). `tree` needs its log_prior
    and log_likelihood groups."""
    import arviz_plots as azp
    import xarray as xr

    posterior = tree["posterior"].to_dataset()
    if len(posterior.data_vars) == 1:
        # arviz_stats 1.3's power_scale_dataset resamples with arviz_base.extract, which
        # returns a DataArray, not a Dataset, for a one-variable posterior, and the plot
        # then fails to index it: an unplotted second variable keeps it a Dataset.
        first = next(iter(posterior.data_vars.values()))
        tree = tree.copy()
        tree["posterior"] = posterior.assign(_unplotted=xr.zeros_like(first))
    pc = azp.plot_psense_dist(tree, var_names=var_names, backend="matplotlib", figure_kwargs=LAYOUT)
    return _figure(pc)


def rank(tree, var_names: list[str]):
    """Each chain's fractional-rank ECDF, on draws thinned to about independent (ArviZ's
    `thin`), which its multi-chain uniformity test assumes: 3 s instead of 9 s for the
    ordinal rung's 8,000 draws."""
    import arviz_plots as azp

    pc = azp.plot_rank(
        tree, var_names=var_names, thin=True, backend="matplotlib", figure_kwargs=LAYOUT
    )
    return _figure(pc)


def loo_comparison(table: pd.DataFrame):
    import arviz_plots as azp

    pc = azp.plot_compare(table, backend="matplotlib", figure_kwargs=LAYOUT)
    return _figure(pc)


def forest(frame: pd.DataFrame, title: str, truth: bool = False):
    """One panel per parameter, a row per model; true values in red when `truth`.
    Drawn here from the summary tables: ArviZ's plot_forest takes draws and has no mark
    for a true value or a non-Bayesian estimate (the two-stage one, in `site_forest`)."""
    parameters = list(dict.fromkeys(frame["parameter"]))
    models = list(dict.fromkeys(frame["model"]))
    columns = min(4, len(parameters))
    rows = int(np.ceil(len(parameters) / columns))
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(3.2 * columns, 0.45 * len(models) * rows + 1.2 * rows),
        squeeze=False,
    )
    for ax, parameter in zip(axes.ravel(), parameters, strict=False):
        part = frame[frame["parameter"] == parameter].set_index("model").reindex(models)
        y = np.arange(len(models))[::-1]
        for yi, (_model, row), color in zip(y, part.iterrows(), MODEL_COLORS, strict=False):
            if pd.isna(row["mean"]):
                continue
            ax.errorbar(
                row["mean"],
                yi,
                xerr=[[row["mean"] - row["ci_low"]], [row["ci_high"] - row["mean"]]],
                fmt="o",
                color=color,
                capsize=2,
            )
            if truth:
                ax.plot(
                    row["true_value"], yi, "|", color=TRUE_COLOR, markersize=16, markeredgewidth=2.5
                )
        ax.set_yticks(y, models)
        ax.set_title(parameter, fontsize=10)
    for ax in axes.ravel()[len(parameters) :]:
        ax.axis("off")
    fig.suptitle(title + (" (true values in red)" if truth else ""))
    fig.tight_layout()
    return fig


def site_forest(frame: pd.DataFrame, site_label: str, effect_label: str, ci_prob: float):
    """Each site's treatment effect, sites ordered by the two-stage estimate (or the
    first rung's), every rung's estimate and the two-stage one side by side."""
    sources = list(dict.fromkeys(frame["source"]))
    order_by = "two-stage" if "two-stage" in sources else sources[0]
    order = frame[frame["source"] == order_by].sort_values("mean")["site"].astype(str).tolist()
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(order) * max(1, len(sources) / 2) + 1.5))
    width = 0.8 / len(sources)
    for i, (source, color) in enumerate(zip(sources, MODEL_COLORS, strict=False)):
        part = frame[frame["source"] == source].set_index(
            frame["site"].astype(str)[frame["source"] == source]
        )
        part = part.reindex(order)
        y = np.arange(len(order)) + (i - (len(sources) - 1) / 2) * width
        ax.errorbar(
            part["mean"],
            y,
            xerr=[part["mean"] - part["ci_low"], part["ci_high"] - part["mean"]],
            fmt="s" if source == "two-stage" else "o",
            markersize=4,
            color="black" if source == "two-stage" else color,
            label=source,
            elinewidth=1,
        )
    ax.axvline(0, color="0.6", linewidth=0.8, linestyle="--")
    ax.set_yticks(np.arange(len(order)), order)
    ax.set_ylabel(f"{site_label} (ordered by the {order_by} estimate)")
    ax.set_xlabel(f"{effect_label} ({100 * ci_prob:.0f}% intervals)")
    ax.legend(frameon=False, fontsize=8, loc="best")
    ax.set_title("The treatment effect in each site")
    fig.tight_layout()
    return fig


def pareto_k(ks: dict[str, np.ndarray], threshold: float):
    """Each model's PSIS Pareto k per observation in a row of its own (ArviZ's
    plot_khat), the threshold drawn across; a row's title counts the observations above
    it or without a k (NaN: nothing vouches for the estimate). plot_khat's own threshold
    labels are off: they fail on faceted data in arviz_plots 1.3."""
    import arviz_plots as azp
    import xarray as xr
    from arviz_stats import ELPDDataLOO

    titles = [
        f"{model}: {int((~(k <= threshold)).sum())} of {k.size} above {threshold:.2f} "
        "(or without a k)"
        for model, k in ks.items()
    ]
    khat = xr.DataArray(np.stack(list(ks.values())), dims=["model", "__obs__"]).assign_coords(
        model=titles
    )
    n_models, n_obs = khat.shape
    elpd = ELPDDataLOO(  # only the k are drawn; plot_khat takes them inside an ELPD result
        elpd=np.nan,
        se=np.nan,
        p=np.nan,
        n_samples=0,
        n_data_points=n_obs,
        warning=False,
        good_k=threshold,
        scale="log",
        elpd_i=xr.full_like(khat, np.nan),
        pareto_k=khat,
    )
    figure = {**LAYOUT, "figsize": (7, 1.2 + 1.6 * n_models), "sharex": True}
    pc = azp.plot_khat(
        elpd,
        rows=["model"],
        hline_values=[threshold],
        legend=False,
        backend="matplotlib",
        visuals={"hlines": {}, "title": True},
        figure_kwargs=figure,
    )
    return _figure(pc)


def savage_dickey(draws: np.ndarray, prior: dict, log_density: float, label: str, title: str):
    """The effect's prior (its exact density) and posterior (a histogram of the draws),
    with both densities at zero marked: the posterior's is the one the Bayes factor uses
    (effect_density: the mean of the draws' conditional densities), which a histogram or
    a KDE of the draws cannot give where zero lies beyond them; ArviZ's plot_bf draws and
    labels those KDEs, so it does not serve."""
    from replication_ladder.models.prior_spec import Prior

    draws = np.asarray(draws, dtype=float).ravel()
    spread = max(float(draws.std()), 1e-9)
    low = min(0.0, float(draws.min())) - 2 * spread
    high = max(0.0, float(draws.max())) + 2 * spread
    grid = np.linspace(low, high, 400)
    density = np.exp(Prior(prior).log_density(grid))
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.hist(draws, bins=60, density=True, color=MODEL_COLORS[0], alpha=0.5, label="posterior")
    ax.plot(grid, density, color=REFERENCE_COLOR, label=f"prior {Prior(prior).text()}")
    at_zero = {
        "prior at 0": float(np.exp(Prior(prior).log_density(np.asarray([0.0]))[0])),
        "posterior at 0": math.exp(log_density),
    }
    for (name, value), color in zip(
        at_zero.items(), (REFERENCE_COLOR, MODEL_COLORS[0]), strict=True
    ):
        ax.plot([0.0], [value], "o", color=color, label=f"{name}: {value:.3g}")
    ax.axvline(0, color="0.6", linewidth=0.8, linestyle="--")
    ax.set_yscale("symlog", linthresh=max(1e-3, min(at_zero.values())))
    ax.set_xlabel(label)
    ax.set_ylabel("density")
    ax.legend(frameon=False, fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def loso_differences(diff: pd.DataFrame, best: str, site_label: str):
    fig, ax = plt.subplots(figsize=(7, 3))
    x = np.arange(len(diff))
    width = 0.8 / max(1, diff.shape[1])
    for i, (model, color) in enumerate(zip(diff.columns, MODEL_COLORS[1:], strict=False)):
        ax.bar(x + i * width, diff[model], width=width, color=color, label=model)
    ax.axhline(0, color="0.5", linewidth=0.8)
    ax.set_xticks(x + width * (diff.shape[1] - 1) / 2, diff.index)
    ax.set_xlabel(f"held-out {site_label}")
    ax.set_ylabel(f"elpd difference to {best}")
    ax.legend(frameon=False)
    ax.set_title("Leave one site out: predicting each held-out site")
    return fig


def predictions_against_truth(tables: dict[str, pd.DataFrame], ci_prob: float):
    fig, axes = plt.subplots(
        1,
        len(tables),
        figsize=(4.2 * len(tables), 4),
        squeeze=False,
        sharex=True,
        sharey=True,
        layout="constrained",
    )
    for ax, (model, table), color in zip(axes[0], tables.items(), MODEL_COLORS, strict=False):
        ax.errorbar(
            table["observed"],
            table["mean"],
            yerr=[table["mean"] - table["obs_ci_low"], table["obs_ci_high"] - table["mean"]],
            fmt="o",
            markersize=3,
            color=color,
            alpha=0.6,
            elinewidth=0.8,
        )
        low = min(table["observed"].min(), table["obs_ci_low"].min())
        high = max(table["observed"].max(), table["obs_ci_high"].max())
        ax.plot([low, high], [low, high], color=TRUE_COLOR, linewidth=1)
        ax.set_title(f"{model}: {table['covered'].sum()} of {len(table)} covered", fontsize=10)
        ax.set_xlabel("true held-out value")
    axes[0][0].set_ylabel(f"prediction (mean, {100 * ci_prob:.0f}% interval)")
    return fig


def predictions_along_grid(
    tables: dict[str, pd.DataFrame], grid: dict, outcome: str, ci_prob: float
):
    numeric = [c for c in grid if isinstance(grid[c], dict)]
    x = numeric[0] if numeric else next(iter(grid))
    groups = [c for c in grid if c != x]
    fig, axes = plt.subplots(
        1,
        len(tables),
        figsize=(4.5 * len(tables), 3.5),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    for ax, (model, table) in zip(axes[0], tables.items(), strict=True):
        keys = table.groupby(groups, observed=True) if groups else [("all", table)]
        for (level, part), color in zip(keys, MODEL_COLORS, strict=False):
            part = part.sort_values(x)
            label = ", ".join(
                f"{g} = {v}" for g, v in zip(groups, np.atleast_1d(level), strict=True)
            )
            ax.plot(part[x], part["mean"], color=color, label=label or None)
            ax.fill_between(
                part[x], part["mean_ci_low"], part["mean_ci_high"], color=color, alpha=0.2
            )
        ax.set_xlabel(x)
        ax.set_title(model, fontsize=10)
        if groups:
            ax.legend(frameon=False)
    axes[0][0].set_ylabel(f"expected {outcome} (posterior mean, {100 * ci_prob:.0f}%)")
    return fig


def effects_on_one_axis(rows: list[dict], xlabel: str, title: str):
    """Estimates with intervals on one axis: the original (a diamond), the published
    meta-analysis and every rung's pooled effect."""
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.2))
    for y, row in enumerate(reversed(rows)):
        color = row.get("color") or MODEL_COLORS[y % len(MODEL_COLORS)]
        if row.get("ci_low") is None:
            ax.plot(row["mean"], y, "D", color=color, markersize=8)
        else:
            ax.errorbar(
                row["mean"],
                y,
                xerr=[[row["mean"] - row["ci_low"]], [row["ci_high"] - row["mean"]]],
                fmt="s" if row.get("reference") else "o",
                color=color,
                capsize=3,
            )
    ax.set_yticks(range(len(rows)), [row["label"] for row in reversed(rows)])
    ax.axvline(0, color="0.6", linewidth=0.8, linestyle="--")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def robustness(curves: dict[str, list[dict]], test_point: dict | None, unit_label: str):
    """BF01 against the prior's scale on log axes, as JASP's robustness check: evidence
    bands at 1/10, 1/3, 3 and 10, the test's prior marked."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for (label, curve), color in zip(curves.items(), MODEL_COLORS, strict=False):
        scale = [point["scale"] for point in curve]
        value = [point["bf01"] for point in curve]
        reliable = [point["reliable"] for point in curve]
        ax.plot(scale, value, "-", color=color, label=label)
        ax.scatter(
            [s for s, ok in zip(scale, reliable, strict=True) if ok],
            [v for v, ok in zip(value, reliable, strict=True) if ok],
            color=color,
            s=14,
        )
        ax.scatter(
            [s for s, ok in zip(scale, reliable, strict=True) if not ok],
            [v for v, ok in zip(value, reliable, strict=True) if not ok],
            facecolors="none",
            edgecolors=color,
            s=30,
        )
    for level in (1 / 10, 1 / 3, 3, 10):
        ax.axhline(level, color="0.85", linewidth=0.8)
    ax.axhline(1, color="0.6", linewidth=0.8)
    if test_point is not None:
        ax.plot(
            test_point["scale"],
            test_point["bf01"],
            "D",
            color=TRUE_COLOR,
            markersize=7,
            label="test prior",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"prior SD of the effect, in units of {unit_label}")
    ax.set_ylabel("BF01 (above 1: evidence for no effect)")
    ax.legend(frameon=False, fontsize=8)
    ax.set_title("Robustness of the Bayes factor to the prior's width")
    fig.tight_layout()
    return fig


def operating_characteristics(scenarios: dict):
    """Per true effect, the shares of simulated replications with each verdict, stacked
    (Schoenbrodt & Wagenmakers' design analysis as one bar a scenario)."""
    fig, ax = plt.subplots(figsize=(7, 0.7 * len(scenarios) + 1.2))
    names = list(scenarios)
    left = np.zeros(len(names))
    groups = list(next(iter(scenarios.values()))["grouped"])
    for group, color in zip(groups, (MODEL_COLORS[2], MODEL_COLORS[3], "0.7"), strict=False):
        shares = np.array([scenarios[n]["grouped"][group] for n in names])
        ax.barh(names, shares, left=left, color=color, label=group)
        left += shares
    ax.set_xlim(0, 1)
    ax.invert_yaxis()  # the scenarios read top down: zero, the original's, d33
    ax.set_xlabel("share of simulated replications")
    ax.set_yticks(range(len(names)), [f"{n} ({scenarios[n]['true_effect']:.3g})" for n in names])
    ax.legend(frameon=False, fontsize=8, ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.3))
    ax.set_title("The verdict's operating characteristics by true effect")
    fig.tight_layout()
    return fig


def bayes_factor_calibration(calibration: dict, table: pd.DataFrame):
    """Schad et al.'s (2022) check drawn: within bins of P(H1 | y), the share of replicates
    simulated from H1 against the bin's mean P (calibrated on the diagonal); beside it,
    log BF10 on data from each hypothesis."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    bins = pd.DataFrame(calibration["bins"])
    left.plot([0, 1], [0, 1], color="0.6", linewidth=0.8, linestyle="--")
    left.scatter(bins["mean_p_h1"], bins["share_from_h1"], s=12 + 3 * bins["replicates"])
    left.set_xlabel("mean P(H1 | y) in the bin")
    left.set_ylabel("share of replicates from H1")
    left.set_title(
        f"mean P(H1 | y) {calibration['mean_p_h1']:.3f} "
        f"(+/- {calibration['mean_p_h1_mcse']:.3f}), expected {calibration['share_from_h1']:.2f}",
        fontsize=9,
    )
    for (hypothesis, rows), color in zip(table.groupby("hypothesis"), MODEL_COLORS, strict=False):
        right.hist(rows["log_bf10"].dropna(), bins=20, alpha=0.6, color=color, label=hypothesis)
    right.axvline(0, color="0.6", linewidth=0.8)
    right.set_xlabel("log BF10")
    right.legend(frameon=False, title="simulated from")
    fig.tight_layout()
    return fig


def sbc_ecdf(ranks_tree, var_names: list[str]):
    """PIT-ECDF differences with simultaneous bands (arviz-plots `plot_ecdf_pit`, its
    default pot_c method: the test `sbc_ranks.uniformity` reports; its "envelope" method fails
    on a DataArray sample size in arviz-plots as pinned)."""
    import arviz_plots as azp

    pc = azp.plot_ecdf_pit(
        ranks_tree,
        var_names=var_names,
        backend="matplotlib",
        figure_kwargs=LAYOUT,
        col_wrap=4,
    )
    return _figure(pc)


def prior_predictive(samples: pd.DataFrame, checks: pd.DataFrame, label: str):
    """Per rung, the outcomes simulated from its priors against the outcome's possible
    range (dashed), the share outside it in the title. Drawn here: ArviZ's plot_ppc_dist
    (group "prior_predictive") sets simulated against observed data, not against the
    range a scale allows, which is what this check is about."""
    models = list(checks.index)
    fig, axes = plt.subplots(
        len(models), 1, figsize=(6, 1.6 * len(models) + 0.4), squeeze=False, **LAYOUT
    )
    for ax, model in zip(axes[:, 0], models, strict=True):
        row = checks.loc[model]
        values = samples.loc[samples["model"] == model, "value"].to_numpy()
        ax.hist(values, bins=60, color=MODEL_COLORS[0], alpha=0.7)
        ax.set_yticks([])
        if pd.isna(row["share_outside"]):
            ax.set_title(f"{model}: no range declared to hold them against", fontsize=9)
            continue
        for bound in (row["low"], row["high"]):
            ax.axvline(bound, color=TRUE_COLOR, linestyle="--")
        ax.set_title(
            f"{model}: {100 * row['share_outside']:.1f}% outside {row['low']:g} to {row['high']:g}",
            fontsize=9,
        )
    axes[-1, 0].set_xlabel(f"{label}, simulated from the priors")
    return fig
