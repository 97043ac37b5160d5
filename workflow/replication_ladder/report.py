"""The content of a dataset's report: tables and figures, read only from artefacts.

The report notebook (workflow/notebooks/report.ipynb) calls these functions; nothing here
fits a model. Every figure is also saved as a PNG beside the report, and the main tables
as CSV, for Snakemake's own report.
"""

import html
import io
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from replication_ladder.atomic import write_bytes, write_text

DPI = 80
LAYOUT = {"layout": "constrained"}  # arviz_plots' grids otherwise overlap their titles
TRUE_COLOR = "#d62728"  # true values in red, as in the Bambi chapter's logistic example
MODEL_COLORS = plt.get_cmap("tab10").colors


@dataclass
class DatasetReport:
    """Everything the workflow wrote about one dataset."""

    dataset: str
    spec: dict
    settings: dict
    data_dir: Path
    results_dir: Path
    figures_dir: Path

    def __post_init__(self):
        self.data_dir, self.results_dir = Path(self.data_dir), Path(self.results_dir)
        self.figures_dir = Path(self.figures_dir)
        self.figures_dir.mkdir(parents=True, exist_ok=True)

    # -- artefacts ---------------------------------------------------------------------

    @property
    def models(self) -> list[str]:
        return list(self.spec["models"])

    def path(self, *parts: str) -> Path:
        return self.results_dir.joinpath(self.dataset, *parts)

    @cached_property
    def record(self) -> dict:
        return json.loads((self.data_dir / "processed" / f"{self.dataset}.json").read_text())

    @cached_property
    def data(self) -> pd.DataFrame:
        return pd.read_parquet(self.data_dir / "processed" / f"{self.dataset}.parquet")

    def diagnostics(self, model: str) -> dict:
        return json.loads(self.path(model, "diagnostics.json").read_text())

    def summary(self, model: str) -> pd.DataFrame:
        return pd.read_parquet(self.path(model, "summary.parquet"))

    def priors_text(self, model: str) -> str:
        return self.path(model, "priors.txt").read_text()

    # What a report shows follows the config, never files an earlier run left behind.

    @cached_property
    def loo(self) -> pd.DataFrame:
        return pd.read_parquet(self.path("loo.parquet"))

    @cached_property
    def recovery(self) -> pd.DataFrame | None:
        synthetic = "generator" in self.spec["source"]
        return pd.read_parquet(self.path("recovery.parquet")) if synthetic else None

    @cached_property
    def loso(self) -> pd.DataFrame | None:
        return pd.read_parquet(self.path("loso.parquet")) if self.settings["loso"] else None

    @cached_property
    def loso_sites(self) -> pd.DataFrame | None:
        return pd.read_parquet(self.path("loso_sites.parquet")) if self.settings["loso"] else None

    @cached_property
    def replication(self) -> dict | None:
        if not self.spec["replication"]:
            return None
        return json.loads(self.path("replication.json").read_text())

    def posterior(self, model: str):
        """The posterior and sample stats of a fit (not its log-likelihood)."""
        import xarray as xr

        with xr.open_datatree(self.path(model, "posterior.nc"), engine="h5netcdf") as tree:
            return xr.DataTree.from_dict(
                {
                    group: tree[group].to_dataset().load()
                    for group in ("posterior", "sample_stats", "observed_data")
                }
            )

    @cached_property
    def outcome(self) -> tuple[str, np.ndarray]:
        """The modelled outcome (name and observed values) of the first rung."""
        observed = self.posterior(self.models[0])["observed_data"].to_dataset()
        name = next(iter(observed.data_vars))
        return name, observed[name].values.ravel()

    # -- figures and tables for Snakemake's report --------------------------------------

    def save(self, fig, name: str):
        """Save a figure as <figures_dir>/<name>.png; return that PNG for display, so the
        report shows exactly the file Snakemake's report gets."""
        from IPython.display import Image

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
        plt.close(fig)
        write_bytes(self.figures_dir / f"{name}.png", buffer.getvalue())
        return Image(data=buffer.getvalue(), format="png")

    def table(self, frame: pd.DataFrame, name: str) -> pd.DataFrame:
        write_text(self.figures_dir / f"{name}.csv", frame.to_csv())
        return frame

    # -- the data ----------------------------------------------------------------------

    def data_table(self) -> pd.DataFrame:
        record = self.record
        rows = {
            "rows in the raw file": record["rows_raw"],
            "rows kept": record["rows_kept"],
            "rows removed": record["rows_removed"],
        }
        for column, count in record["removed_by_column"].items():
            rows[f"  missing {column}"] = count
        if record.get("sites"):
            rows[f"sites ({self.spec['site']})"] = record["sites"]
        return pd.DataFrame({"value": rows})

    @property
    def treatment(self) -> str | None:
        return (self.spec.get("replication") or {}).get("treatment")

    def outcome_table(self) -> pd.DataFrame:
        name, _ = self.outcome
        data = self.data
        if self.treatment is None or name not in data:
            return data[[name]].describe().T if name in data else pd.DataFrame()
        return data.groupby(self.treatment, observed=True)[name].agg(["count", "mean", "std"])

    def outcome_figure(self):
        name, values = self.outcome
        fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
        data = self.data
        groups = (
            [
                (f"{self.treatment} = {level}", data.loc[data[self.treatment] == level, name])
                for level in sorted(data[self.treatment].dropna().unique())
            ]
            if self.treatment is not None and name in data
            else [("all rows", values)]
        )
        bins = _bins(values)
        for (label, group), color in zip(groups, MODEL_COLORS, strict=False):
            ax.hist(group, bins=bins, alpha=0.5, density=True, label=label, color=color)
        ax.set_xlabel(name)
        ax.set_ylabel("density")
        ax.legend(frameon=False)
        ax.set_title(f"{name} by {self.treatment}" if self.treatment else f"{name}")
        return self.save(fig, "ladder.outcome")

    # -- per model -------------------------------------------------------------------------

    def model_header(self, model: str) -> str:
        entry = self.spec["models"][model]
        if entry["kind"] == "pymc":
            return f"PyMC model built by <code>{html.escape(entry['builder'])}</code>"
        return (
            f"<code>{html.escape(entry['formula'])}</code>, family "
            f"<code>{html.escape(entry['family'])}</code>"
        )

    def model_summary(self, model: str) -> pd.DataFrame:
        summary = self.summary(model)
        return self.table(summary, f"{model}.summary")

    def diagnostics_box(self, model: str) -> str:
        """The convergence figures, with any warning shown prominently."""
        d = self.diagnostics(model)
        figures = (
            f"{d['sampler']}, {d['chains']} chains x {d['draws']} draws after "
            f"{d['tune']} tuning steps, target_accept {d['target_accept']}, seed "
            f"{d['seed']}: {d['divergences']} divergences, max r_hat "
            f"{_fmt(d['max_r_hat'], '.3f')}, min ESS bulk "
            f"{_fmt(d['min_ess_bulk'], '.0f')} and tail {_fmt(d['min_ess_tail'], '.0f')}"
        )
        if not d["warnings"]:
            return f'<div class="ladder-ok">Converged: {html.escape(figures)}.</div>'
        items = "".join(f"<li>{html.escape(w)}</li>" for w in d["warnings"])
        return (
            f'<div class="ladder-warning"><strong>Convergence warnings</strong>'
            f"<ul>{items}</ul>{html.escape(figures)}.</div>"
        )

    def _main_parameters(self, model: str) -> list[str]:
        """Parameters worth a trace plot: not per-site effects (too many to show)."""
        return [name for name in self.summary(model).index if "[" not in name or "|" not in name]

    def _variables(self, model: str) -> list[str]:
        return list(dict.fromkeys(name.split("[")[0] for name in self._main_parameters(model)))

    def trace_figure(self, model: str):
        import arviz_plots as azp

        tree = self.posterior(model)
        pc = azp.plot_trace(
            tree, var_names=self._variables(model), backend="matplotlib", figure_kwargs=LAYOUT
        )
        return self.save(_figure(pc), f"{model}.trace")

    def rank_figure(self, model: str):
        import arviz_plots as azp

        tree = self.posterior(model)
        pc = azp.plot_rank(
            tree, var_names=self._variables(model), backend="matplotlib", figure_kwargs=LAYOUT
        )
        return self.save(_figure(pc), f"{model}.rank")

    def ppc_figure(self, model: str):
        """The observed outcome's histogram against those of 100 datasets replicated from
        the posterior (their median and 90% range per bin)."""
        name, observed = self.outcome
        replicated = pd.read_parquet(self.path(model, "ppc.parquet")).to_numpy().T
        bins = _bins(np.concatenate([observed, replicated.ravel()]))
        counts, edges = np.histogram(observed, bins=bins, density=True)
        simulated = np.array(
            [np.histogram(draws, bins=edges, density=True)[0] for draws in replicated]
        )
        low, middle, high = np.quantile(simulated, [0.05, 0.5, 0.95], axis=0)
        centres = (edges[:-1] + edges[1:]) / 2
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.bar(centres, counts, width=np.diff(edges) * 0.9, color="0.8", label="observed")
        ax.errorbar(
            centres,
            middle,
            yerr=[middle - low, high - middle],
            fmt="o",
            markersize=3,
            color=MODEL_COLORS[0],
            label="replicated (median, 90%)",
        )
        ax.set_xlabel(name)
        ax.set_ylabel("density")
        ax.legend(frameon=False)
        ax.set_title(f"Posterior predictive check: {model}")
        return self.save(fig, f"{model}.ppc")

    # -- across the ladder ----------------------------------------------------------------

    def common_effects(self) -> pd.DataFrame:
        """Common (population-level) effects of every rung, side by side."""
        rows = []
        for model in self.models:
            summary = self.summary(model)
            for name, row in summary.iterrows():
                if "|" in name or name in _auxiliary(self.spec["models"][model]):
                    continue
                rows.append(
                    {
                        "model": model,
                        "parameter": name,
                        "mean": row["mean"],
                        "ci_low": row["ci_low"],
                        "ci_high": row["ci_high"],
                    }
                )
        return pd.DataFrame(rows)

    def forest_figure(self):
        """Each common effect in its own panel (their scales differ), rungs as rows."""
        effects = self.common_effects()
        return self.save(
            _forest(effects, truth=None, title="Common effects across the ladder"), "ladder.forest"
        )

    def site_effects(self) -> pd.DataFrame | None:
        """Site-level effects of the rung with the most group-specific terms."""
        site = self.spec.get("site")
        if site is None:
            return None
        best = max(
            self.models,
            key=lambda m: sum(
                name.endswith("_sigma") and "|" in name for name in self.summary(m).index
            ),
        )
        summary = self.summary(best)
        rows = summary[[("|" in name and "[" in name) for name in summary.index]]
        if rows.empty:
            return None
        frame = rows[["mean", "ci_low", "ci_high"]].copy()
        frame["term"] = [name.split("[")[0] for name in frame.index]
        frame["site"] = pd.Categorical(
            [name.split("[")[1].rstrip("]") for name in frame.index],
            categories=self.record["site_levels"],
            ordered=True,
        )
        frame["model"] = best
        return frame.sort_values(["term", "site"], kind="stable").reset_index(drop=True)

    def site_figure(self):
        frame = self.site_effects()
        terms = list(dict.fromkeys(frame["term"]))
        fig, axes = plt.subplots(
            1,
            len(terms),
            figsize=(4 * len(terms), 0.25 * len(frame) / len(terms) + 1.2),
            sharey=True,
            squeeze=False,
        )
        for ax, term in zip(axes[0], terms, strict=True):
            part = frame[frame["term"] == term]
            y = np.arange(len(part))[::-1]  # first site on top
            ax.errorbar(
                part["mean"],
                y,
                xerr=[part["mean"] - part["ci_low"], part["ci_high"] - part["mean"]],
                fmt="o",
                color=MODEL_COLORS[0],
            )
            ax.axvline(0, color="0.6", linewidth=0.8)
            ax.set_yticks(y, part["site"].astype(str))
            ax.set_title(term)
        axes[0][0].set_ylabel(self.spec["site"])
        fig.suptitle(
            f"Site-level effects ({frame['model'].iloc[0]}, "
            f"{100 * self.settings['ci_prob']:.0f}% intervals)"
        )
        return self.save(fig, "ladder.site_effects")

    def loo_table(self) -> pd.DataFrame:
        return self.table(self.loo, "ladder.loo")

    def loo_warnings(self) -> str:
        loo = self.loo
        high = loo[loo["n_high_pareto_k"] > 0]
        if high.empty:
            return (
                f'<div class="ladder-ok">No observation has a Pareto k above '
                f"{loo['pareto_k_threshold'].iloc[0]:.2f}: PSIS-LOO is reliable.</div>"
            )
        items = "".join(
            f"<li>{html.escape(model)}: {row['n_high_pareto_k']} observations "
            f"({100 * row['share_high_pareto_k']:.2f}%) with Pareto k above "
            f"{row['pareto_k_threshold']:.2f}; remedy {html.escape(row['remedy'])} leaves "
            f"{row['n_high_pareto_k_after']}</li>"
            for model, row in high.iterrows()
        )
        return f'<div class="ladder-warning"><strong>High Pareto k</strong><ul>{items}</ul></div>'

    def loo_figure(self):
        import arviz_plots as azp

        pc = azp.plot_compare(self.loo, backend="matplotlib", figure_kwargs=LAYOUT)
        return self.save(_figure(pc), "ladder.loo")

    def pareto_k_figure(self):
        threshold = float(self.loo["pareto_k_threshold"].iloc[0])
        fig, axes = plt.subplots(
            len(self.models),
            1,
            figsize=(7, 1.6 * len(self.models)),
            sharex=True,
            sharey=True,
            squeeze=False,
        )
        for ax, model, color in zip(axes[:, 0], self.models, MODEL_COLORS, strict=False):
            k = pd.read_parquet(self.path(model, "loo_pointwise.parquet"))["pareto_k_psis"]
            ax.scatter(np.arange(k.size), k, s=4, color=color, alpha=0.6)
            ax.axhline(threshold, color=TRUE_COLOR, linewidth=1)
            ax.set_ylabel("Pareto k")
            ax.set_title(f"{model}: {(k > threshold).sum()} above {threshold:.2f}", fontsize=9)
        axes[-1, 0].set_xlabel("observation")
        return self.save(fig, "ladder.pareto_k")

    def loso_table(self) -> pd.DataFrame:
        return self.table(self.loso, "ladder.loso")

    def loso_figure(self):
        sites = self.loso_sites
        best = self.loso.index[0]
        by_site = sites.pivot(index="site", columns="model", values="elpd_site").reindex(
            self.record["site_levels"]
        )
        diff = by_site.sub(by_site[best], axis=0).drop(columns=best)
        fig, ax = plt.subplots(figsize=(7, 3))
        x = np.arange(len(diff))
        width = 0.8 / max(1, diff.shape[1])
        for i, (model, color) in enumerate(zip(diff.columns, MODEL_COLORS[1:], strict=False)):
            ax.bar(x + i * width, diff[model], width=width, color=color, label=model)
        ax.axhline(0, color="0.5", linewidth=0.8)
        ax.set_xticks(x + width * (diff.shape[1] - 1) / 2, diff.index)
        ax.set_xlabel(f"held-out {self.spec['site']}")
        ax.set_ylabel(f"elpd difference to {best}")
        ax.legend(frameon=False)
        ax.set_title("Leave one site out: predicting each held-out site")
        return self.save(fig, "ladder.loso")

    # -- synthetic data: recovery ------------------------------------------------------

    def recovery_table(self) -> pd.DataFrame:
        return self.table(self.recovery, "ladder.recovery")

    def recovery_sentence(self) -> str:
        return recovery_sentence(self.recovery, self.settings["ci_prob"])

    def recovery_figure(self):
        """Estimates with their intervals, the true values in red."""
        parameter = self.recovery["parameter"]
        per_site = parameter.str.contains("[", regex=False) & parameter.str.contains(
            "|", regex=False
        )
        rows = self.recovery[~per_site]
        return self.save(
            _forest(rows, truth=True, title="Estimated against true values"), "ladder.recovery"
        )

    # -- predictions on new rows --------------------------------------------------------

    @cached_property
    def predictions(self) -> dict[str, pd.DataFrame] | None:
        if not self.spec["predict"]:
            return None
        return {m: pd.read_parquet(self.path(m, "predictions.parquet")) for m in self.models}

    def predictions_sentence(self) -> str:
        """Where the new rows come from and, for held-out rows, the intervals' coverage."""
        predict = self.spec["predict"]
        origin = (
            "rows held out of the synthetic data"
            if "holdout" in predict
            else f"the rows of {predict['file']}"
            if "file" in predict
            else "a grid over " + ", ".join(predict["grid"])
        )
        first = next(iter(self.predictions.values()))
        sentence = f"{len(first)} new rows: {html.escape(origin)}."
        if "covered" in first:
            parts = [
                f"{model} {table['covered'].sum()} of {len(table)}"
                for model, table in self.predictions.items()
            ]
            sentence += (
                f" Observed values inside the {100 * self.settings['ci_prob']:.0f}% "
                f"prediction interval: {'; '.join(parts)}."
            )
        return sentence

    def predictions_table(self, model: str) -> pd.DataFrame:
        return self.table(self.predictions[model], f"{model}.predictions")

    def predictions_figure(self):
        """Held-out rows: predictions with intervals against the truth. A grid: the
        expected value along its numeric column, one line per level of the others (for
        the logit data, the probability to stay against frac for both div groups)."""
        tables = self.predictions
        if "observed" in next(iter(tables.values())):
            return self._predictions_against_truth(tables)
        return self._predictions_along_grid(tables)

    def _predictions_against_truth(self, tables):
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
        axes[0][0].set_ylabel("prediction (mean, 95% interval)")
        return self.save(fig, "ladder.predictions")

    def _predictions_along_grid(self, tables):
        numeric = [
            c
            for c in self.spec["predict"]["grid"]
            if isinstance(self.spec["predict"]["grid"][c], dict)
        ]
        x = numeric[0] if numeric else next(iter(self.spec["predict"]["grid"]))
        groups = [c for c in self.spec["predict"]["grid"] if c != x]
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
        axes[0][0].set_ylabel(f"expected {self.outcome[0]} (posterior mean, 95%)")
        return self.save(fig, "ladder.predictions")

    # -- replication verdict -----------------------------------------------------------

    def verdict_numbers(self) -> str:
        """The three estimates the verdict weighs, in words."""
        report = self.replication
        published = report["published"]
        headline = report["models"][report["headline_model"]]
        items = [
            f"original study (Strack, Martin &amp; Stepper): {report['original_effect']:g}",
            f"published meta-analysis: {published['estimate']:g} (95% CI "
            f"{published['ci_low']:g} to {published['ci_high']:g})",
            f"pooled effect here ({html.escape(report['headline_model'])}, best by LOO): "
            f"{headline['mean']:.3f} ({100 * report['ci_prob']:.0f}% CI "
            f"{headline['ci_low']:.3f} to {headline['ci_high']:.3f}), "
            f"P(effect &gt; 0) = {headline['p_positive']:.3f}, "
            f"P(effect &ge; original) = {headline['p_at_least_original']:.3g}, "
            f"BF01 = {headline['bf01']:.3g}",
        ]
        return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"

    def verdict_table(self) -> pd.DataFrame:
        report = self.replication
        rows = {
            model: {
                key: effect[key]
                for key in (
                    "mean",
                    "ci_low",
                    "ci_high",
                    "p_positive",
                    "p_at_least_original",
                    "bf01",
                )
            }
            for model, effect in report["models"].items()
        }
        table = pd.DataFrame(rows).T
        table.index.name = "model"
        return self.table(table, "ladder.verdict")

    def verdict_figure(self):
        """The pooled effects, the original effect and the published meta-analysis on one
        axis."""
        report = self.replication
        published = report["published"]
        rows = [
            ("original study", report["original_effect"], None, None, TRUE_COLOR),
            (
                "published meta-analysis",
                published["estimate"],
                published["ci_low"],
                published["ci_high"],
                "0.3",
            ),
        ]
        for model, color in zip(report["models"], MODEL_COLORS, strict=False):
            effect = report["models"][model]
            rows.append(
                (f"pooled: {model}", effect["mean"], effect["ci_low"], effect["ci_high"], color)
            )
        fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1))
        for y, (_label, mean, low, high, color) in enumerate(reversed(rows)):
            if low is None:
                ax.plot(mean, y, "D", color=color, markersize=8)
            else:
                ax.errorbar(
                    mean, y, xerr=[[mean - low], [high - mean]], fmt="o", color=color, capsize=3
                )
        ax.set_yticks(range(len(rows)), [row[0] for row in reversed(rows)])
        ax.axvline(0, color="0.6", linewidth=0.8, linestyle="--")
        ax.set_xlabel(f"effect of {report['treatment']} ({100 * report['ci_prob']:.0f}% intervals)")
        ax.set_title("Replication: pooled, original and published effects")
        return self.save(fig, "ladder.verdict")

    # -- provenance ----------------------------------------------------------------------

    def provenance_table(self) -> pd.DataFrame:
        rows = {}
        for model in self.models:
            d = self.diagnostics(model)
            rows[model] = {
                "sampler": d["sampler"],
                "seed": d["seed"],
                "chains": d["chains"],
                "draws": d["draws"],
                "tune": d["tune"],
                "model config sha256": d["config_sha256"],
                "data sha256": d["data_sha256"],
                "git commit": d["provenance"]["git_commit"],
                "tree dirty": d["provenance"]["git_dirty"],
            }
        return pd.DataFrame(rows).T

    def versions_table(self) -> pd.DataFrame:
        versions = self.diagnostics(self.models[0])["provenance"]["versions"]
        return pd.DataFrame({"version": versions})

    def hashes_table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "sha256": {
                    "raw data": self.record["raw_sha256"],
                    "processed data": self.record["processed_sha256"],
                    "workflow config": self.settings["config_sha256"],
                }
            }
        )


def _auxiliary(entry: dict) -> set[str]:
    from replication_ladder.config import FAMILY_PARAMETERS

    return set(FAMILY_PARAMETERS.get(entry.get("family") or "", ()))


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _bins(values: np.ndarray):
    values = np.asarray(values, dtype=float)
    unique = np.unique(values[np.isfinite(values)])
    if unique.size <= 30 and np.allclose(unique, np.round(unique)):
        return np.arange(unique.min() - 0.5, unique.max() + 1.5)
    return 40


def _figure(plot_collection):
    """The matplotlib figure behind an arviz_plots PlotCollection."""
    return plot_collection.viz["figure"].item()


def _forest(frame: pd.DataFrame, truth, title: str):
    """One panel per parameter, a row per model; true values in red when given."""
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


def recovery_sentence(recovery: pd.DataFrame, ci_prob: float) -> str:
    """One line: how many true values each rung's intervals cover."""
    if recovery is None or recovery.empty:
        return "No rung of the ladder estimates every parameter of the generator."
    parts = [
        f"{model} covers {part['covered'].sum()} of {len(part)}"
        for model, part in recovery.groupby("model", sort=False)
    ]
    return f"Recovery: {'; '.join(parts)} true values within its {100 * ci_prob:.0f}% intervals."


STYLE = """<style>
.ladder-warning {border: 2px solid #d62728; background: #fdecea; padding: 0.6em 1em;
  margin: 0.5em 0; border-radius: 4px;}
.ladder-ok {border: 1px solid #2ca02c; background: #eef8ee; padding: 0.4em 1em;
  margin: 0.5em 0; border-radius: 4px;}
.ladder-verdict {font-size: 1.15em; border-left: 4px solid #1f77b4; padding: 0.4em 1em;}
</style>"""
