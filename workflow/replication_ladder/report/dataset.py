"""A dataset's report: tables and figures from the artefacts its rule declared.

The report notebook (workflow/notebooks/report.ipynb) calls the methods of
`DatasetReport`, a thin object: it loads (report.loaders), hands data to pure figure
functions (report.figures) and HTML fragments (report.html), and saves each figure as a
PNG and each main table as a CSV beside the report, for Snakemake's own report. Nothing
here fits a model.
"""

import io
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from replication_ladder import bayes_factors as bf
from replication_ladder.atomic import write_bytes, write_text
from replication_ladder.design import intraclass_correlation, site_design_effect_of_treatment
from replication_ladder.families import FAMILY_PARAMETERS
from replication_ladder.replication import prior_draws_seed
from replication_ladder.report import figures, loaders
from replication_ladder.report import html as fragments
from replication_ladder.report.tables import log_score_units, printable

DPI = 80
STYLE = fragments.STYLE


class DatasetReport:
    """Everything the workflow wrote about one dataset, by the names its rule gave."""

    def __init__(self, settings: dict, inputs: dict, figures_dir: str | Path):
        self.settings = settings
        self.spec = settings["spec"]
        self.dataset = settings["dataset"]
        self.inputs = inputs
        self.figures_dir = Path(figures_dir)
        self.figures_dir.mkdir(parents=True, exist_ok=True)

    # -- artefacts --------------------------------------------------------------------

    @property
    def models(self) -> list[str]:
        return list(self.settings["models"])

    @property
    def row_models(self) -> list[str]:
        return [m for m in self.models if self.settings["levels"][m] == "rows"]

    def fit(self, model: str, name: str):
        return self.inputs["fits"][model].get(name)

    @cached_property
    def record(self) -> dict:
        return loaders.read_json(self.inputs["record"])

    @cached_property
    def data(self) -> pd.DataFrame:
        return loaders.read_parquet(self.inputs["data"])

    def diagnostics(self, model: str) -> dict:
        return loaders.read_json(self.fit(model, "diagnostics"))

    def summary(self, model: str) -> pd.DataFrame:
        return loaders.read_parquet(self.fit(model, "summary"))

    def priors_text(self, model: str) -> str:
        return loaders.read_text(self.fit(model, "priors_txt"))

    def posterior(self, model: str):
        return loaders.read_posterior(self.fit(model, "posterior"))

    @cached_property
    def loo(self) -> pd.DataFrame:
        return loaders.read_parquet(self.inputs["comparison"])

    @cached_property
    def recovery(self) -> pd.DataFrame | None:
        return loaders.read_parquet(self.inputs.get("recovery"))

    @cached_property
    def loso(self) -> pd.DataFrame | None:
        return loaders.read_parquet(self.inputs.get("loso"))

    @cached_property
    def loso_sites(self) -> pd.DataFrame | None:
        return loaders.read_parquet(self.inputs.get("loso_sites"))

    @cached_property
    def replication(self) -> dict | None:
        return loaders.read_json(self.inputs.get("replication"))

    @cached_property
    def site_estimates(self) -> pd.DataFrame | None:
        return loaders.read_parquet(self.inputs.get("sites"))

    @cached_property
    def predictions(self) -> dict[str, pd.DataFrame] | None:
        if not self.spec["predict"]:
            return None
        return {m: loaders.read_parquet(self.fit(m, "predictions")) for m in self.row_models}

    @cached_property
    def outcome(self) -> tuple[str, np.ndarray]:
        """The modelled outcome (name and observed values) of the first row-level rung."""
        return loaders.observed_outcome(self.fit(self.row_models[0], "posterior"))

    @property
    def outcome_label(self) -> str:
        outcome = self.settings["outcome"]
        return outcome["label"] + (f" ({outcome['unit']})" if outcome["unit"] else "")

    @property
    def treatment(self) -> str | None:
        return (self.spec.get("replication") or {}).get("treatment")

    # -- saving ---------------------------------------------------------------------

    def save(self, fig, name: str):
        """Save a figure as <figures_dir>/<name>.png; return that PNG for display, so the
        report shows exactly the file Snakemake's report gets."""
        import matplotlib.pyplot as plt
        from IPython.display import Image

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
        plt.close(fig)
        write_bytes(self.figures_dir / f"{name}.png", buffer.getvalue())
        return Image(data=buffer.getvalue(), format="png")

    def table(
        self, frame: pd.DataFrame, name: str, units: dict[str, str] | None = None
    ) -> pd.DataFrame:
        """Save `frame` at full precision as <name>.csv; return it rounded for the page,
        with `units` in its headers."""
        write_text(self.figures_dir / f"{name}.csv", frame.to_csv())
        return printable(frame, units)

    # -- the data --------------------------------------------------------------------

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
        if record.get("participants"):
            rows[f"participants ({self.spec['participant']})"] = record["participants"]
        contrast = record.get("contrast")
        if contrast:
            labels = (self.spec.get("replication") or {}).get("labels")
            control, treated = labels or (contrast["control"], contrast["treatment"])
            rows["treatment effect"] = f"{contrast['column']}: {treated} minus {control}"
        return pd.DataFrame({"value": {k: str(v) for k, v in rows.items()}})

    def clustering(self) -> pd.DataFrame | None:
        """The intraclass correlation of the outcome within participants and within sites,
        the design effect each implies for a mean, and for the treatment effect (which
        differs for sites: their intercepts cancel in a contrast randomised within them)."""
        if self.record.get("level") == "summary":
            return None  # one row per site: nothing clusters
        name = self.outcome[0]
        rows = {}
        participant, site = self.spec.get("participant"), self.spec.get("site")
        if participant and name in self.data:
            keys = (
                self.data[[site, participant]].astype(str).agg(":".join, axis=1)
                if site
                else self.data[participant]
            )
            rows["participant"] = intraclass_correlation(self.data[name], keys)
        if participant and name in self.data:
            # The condition varies between participants: their clustering is the effect's.
            rows["participant"]["treatment_design_effect"] = rows["participant"]["design_effect"]
        if site and name in self.data:
            rows["site"] = intraclass_correlation(self.data[name], self.data[site])
            rows["site"]["treatment_design_effect"] = self._site_design_effect_of_treatment()
        if not rows:
            return None
        return self.table(pd.DataFrame(rows).T.rename_axis("grouping"), "ladder.clustering")

    def _site_design_effect_of_treatment(self) -> float | None:
        """From the sites' heterogeneity of the effect (REML tau^2 of the site estimates),
        not from the outcome's ICC: site intercepts cancel in a within-site contrast."""
        sites = self.site_estimates
        reference = (self.replication or {}).get("random_effects")
        if sites is None or reference is None:
            return None
        return site_design_effect_of_treatment(sites["se"], reference["tau2"])

    def outcome_table(self) -> pd.DataFrame:
        """Count, mean and SD of the outcome by arm (or its description), in its unit."""
        name, _ = self.outcome
        data = self.data
        if name not in data:
            return pd.DataFrame()
        if self.treatment in data:
            frame = data.groupby(self.treatment, observed=True)[name].agg(["count", "mean", "std"])
        else:
            frame = data[[name]].describe().T
        unit = self.settings["outcome"]["unit"]
        return printable(frame, {str(c): unit for c in frame.columns if c != "count"})

    def outcome_figure(self):
        name, values = self.outcome
        data = self.data
        if self.treatment in data and name in data:
            groups = [
                (
                    f"{self.treatment} = {level}",
                    data.loc[data[self.treatment] == level, name].to_numpy(),
                )
                for level in sorted(data[self.treatment].dropna().unique())
            ]
            title = f"{name} by {self.treatment}"
        else:
            groups, title = [("all rows", values)], name
        return self.save(
            figures.outcome_histogram(groups, self.outcome_label, title), "ladder.outcome"
        )

    # -- per rung ------------------------------------------------------------------------

    def model_header(self, model: str) -> str:
        entry = self.spec["models"][model]
        if entry["kind"] == "pymc":
            level = (
                " (fitted to the per-site estimates)"
                if self.settings["levels"][model] == "sites"
                else ""
            )
            return f"PyMC model built by <code>{fragments.escape(entry['builder'])}</code>{level}"
        return (
            f"<code>{fragments.escape(entry['formula'])}</code>, family "
            f"<code>{fragments.escape(entry['family'])}</code>"
        )

    def model_summary(self, model: str) -> pd.DataFrame:
        return self.table(self.summary(model), f"{model}.summary")

    def diagnostics_box(self, model: str) -> str:
        return fragments.diagnostics_box(self.diagnostics(model))

    def sensitivity_table(self, model: str) -> pd.DataFrame:
        return self.table(loaders.read_parquet(self.fit(model, "psense")), f"{model}.psense")

    def sensitivity_figure(self, model: str):
        """The treatment's (else the first few variables') power-scaling sensitivity."""
        groups = ("posterior", "log_prior", "log_likelihood")
        tree = loaders.read_posterior(self.fit(model, "posterior"), groups=groups)
        names = self._variables(model)
        shown = [self.treatment] if self.treatment in names else names[:3]
        return self.save(figures.power_scaling(tree, shown), f"{model}.psense")

    def _variables(self, model: str) -> list[str]:
        """Variables worth a trace plot: not per-site effects (too many to show)."""
        names = [n for n in self.summary(model).index if "[" not in n or "|" not in n]
        return list(dict.fromkeys(name.split("[")[0] for name in names))

    def trace_figure(self, model: str):
        return self.save(
            figures.trace(self.posterior(model), self._variables(model)), f"{model}.trace"
        )

    def rank_figure(self, model: str):
        return self.save(
            figures.rank(self.posterior(model), self._variables(model)), f"{model}.rank"
        )

    def ppc_figure(self, model: str):
        name, observed = loaders.observed_outcome(self.fit(model, "posterior"))
        replicated = loaders.read_parquet(self.fit(model, "ppc")).to_numpy().T
        label = self.outcome_label if self.settings["levels"][model] == "rows" else name
        fig = figures.posterior_predictive(
            observed, replicated, label, f"Posterior predictive check: {model}"
        )
        return self.save(fig, f"{model}.ppc")

    # -- the priors' implications -----------------------------------------------------

    @cached_property
    def prior_checks(self) -> pd.DataFrame:
        checks = loaders.read_json(self.inputs["prior_predictive"]["check"])["rungs"]
        return pd.DataFrame(checks).set_index("model")

    def prior_predictive_table(self) -> pd.DataFrame:
        columns = ["low", "high", "share_outside", "q01", "q50", "q99", "min", "max"]
        return self.table(self.prior_checks[columns], "priors.predictive")

    def prior_predictive_warnings(self) -> str:
        return fragments.prior_predictive_warnings(self.prior_checks, self.outcome_label)

    def prior_predictive_figure(self):
        samples = loaders.read_parquet(self.inputs["prior_predictive"]["draws"])
        fig = figures.prior_predictive(samples, self.prior_checks, self.outcome_label)
        return self.save(fig, "priors.predictive")

    # -- across the ladder -------------------------------------------------------------

    def common_effects(self) -> pd.DataFrame:
        """Common (population-level) effects of every rung, side by side."""
        rows = []
        for model in self.models:
            family = (
                self.spec["models"][model].get("family")
                if self.spec["models"][model]["kind"] == "bambi"
                else None
            )
            auxiliary = set(FAMILY_PARAMETERS.get(family or "", ()))
            for name, row in self.summary(model).iterrows():
                if "|" in name or name.split("[")[0] in auxiliary:
                    continue
                rows.append(
                    {"model": model, "parameter": name, **row[["mean", "ci_low", "ci_high"]]}
                )
        return pd.DataFrame(rows)

    def forest_figure(self):
        return self.save(
            figures.forest(self.common_effects(), "Common effects across the ladder"),
            "ladder.forest",
        )

    def site_effects(self) -> pd.DataFrame | None:
        """The treatment effect in each site: every rung with a random slope on it and the
        two-stage estimates (for a dataset with a replication block and a site column)."""
        treatment, site = self.treatment, self.spec.get("site")
        if treatment is None or site is None or self.replication is None:
            return None
        rows = []
        for model, effect in self.replication["models"].items():
            for entry in (effect.get("site_effects") or {}).get("sites", []):
                rows.append({"source": model, **entry})
        if self.site_estimates is not None:
            z = _normal_quantile(self.settings["ci_prob"])
            for _, row in self.site_estimates.iterrows():
                rows.append(
                    {
                        "source": "two-stage",
                        "site": row["site"],
                        "mean": row["effect"],
                        "ci_low": row["effect"] - z * row["se"],
                        "ci_high": row["effect"] + z * row["se"],
                    }
                )
        return pd.DataFrame(rows) if rows else None

    def site_figure(self):
        frame = self.site_effects()
        fig = figures.site_forest(
            frame, self.spec["site"], f"effect of {self.treatment}", self.settings["ci_prob"]
        )
        self.table(frame, "ladder.site_effects")
        return self.save(fig, "ladder.site_effects")

    def loo_table(self) -> pd.DataFrame:
        return self.table(self.loo, "ladder.loo", log_score_units(self.loo))

    def loo_warnings(self) -> str:
        return fragments.loo_warnings(self.loo)

    def loo_figure(self):
        compared = self.loo[self.loo["comparable"]]
        return self.save(figures.loo_comparison(compared), "ladder.loo")

    def pareto_k_figure(self):
        compared = self.loo[self.loo["comparable"]]
        threshold = float(compared["pareto_k_threshold"].iloc[0])
        ks = {
            m: loaders.read_parquet(self.fit(m, "loo_pointwise"))["pareto_k_psis"].to_numpy()
            for m in compared.index
        }
        return self.save(figures.pareto_k(ks, threshold), "ladder.pareto_k")

    def loso_table(self) -> pd.DataFrame:
        return self.table(self.loso, "ladder.loso", log_score_units(self.loso))

    def loso_figure(self):
        best = self.loso.index[0]
        by_site = self.loso_sites.pivot(index="site", columns="model", values="elpd_site")
        by_site = by_site.reindex(self.record["site_levels"])
        diff = by_site.sub(by_site[best], axis=0).drop(columns=best)
        return self.save(figures.loso_differences(diff, best, self.spec["site"]), "ladder.loso")

    # -- synthetic data: recovery --------------------------------------------------------

    def recovery_table(self) -> pd.DataFrame:
        return self.table(self.recovery, "ladder.recovery")

    def recovery_sentence(self) -> str:
        return fragments.recovery_sentence(self.recovery, self.settings["ci_prob"])

    def recovery_figure(self):
        parameter = self.recovery["parameter"]
        per_level = parameter.str.contains("[", regex=False) & parameter.str.contains(
            "|", regex=False
        )
        fig = figures.forest(self.recovery[~per_level], "Estimated against true values", truth=True)
        return self.save(fig, "ladder.recovery")

    # -- predictions -----------------------------------------------------------------

    def predictions_sentence(self) -> str:
        predict = self.spec["predict"]
        origin = (
            "rows held out of the synthetic data"
            if "holdout" in predict
            else f"the rows of {predict['file']}"
            if "file" in predict
            else "a grid over " + ", ".join(predict["grid"])
        )
        first = next(iter(self.predictions.values()))
        sentence = f"{len(first)} new rows: {fragments.escape(origin)}."
        if "covered" in first:
            parts = [f"{m} {t['covered'].sum()} of {len(t)}" for m, t in self.predictions.items()]
            sentence += (
                f" Observed values inside the {100 * self.settings['ci_prob']:.0f}% "
                f"prediction interval: {'; '.join(parts)}."
            )
        return sentence

    def predictions_table(self, model: str) -> pd.DataFrame:
        return self.table(self.predictions[model], f"{model}.predictions")

    def predictions_figure(self):
        tables = self.predictions
        if "observed" in next(iter(tables.values())):
            fig = figures.predictions_against_truth(tables, self.settings["ci_prob"])
        else:
            fig = figures.predictions_along_grid(
                tables, self.spec["predict"]["grid"], self.outcome[0], self.settings["ci_prob"]
            )
        return self.save(fig, "ladder.predictions")

    # -- the replication verdict ----------------------------------------------------------

    def verdict_numbers(self) -> str:
        return fragments.verdict_numbers(self.replication)

    def verdict_table(self) -> pd.DataFrame:
        keys = ("scale", "mean", "ci_low", "ci_high", "p_positive", "p_at_least_original", "bf01")
        rows = {m: {k: e.get(k) for k in keys} for m, e in self.replication["models"].items()}
        table = pd.DataFrame(rows).T
        table.index.name = "model"
        return self.table(table, "ladder.verdict")

    def verdict_figure(self):
        """Every rung's pooled effect beside the original and the published estimate."""
        report = self.replication
        published = report["published"]
        rows = [
            {
                "label": "original study",
                "mean": report["original"]["effect"],
                "color": figures.TRUE_COLOR,
            }
        ]
        if published:
            rows.append(
                {
                    "label": "published meta-analysis",
                    "mean": published["estimate"],
                    "ci_low": published["ci_low"],
                    "ci_high": published["ci_high"],
                    "color": figures.REFERENCE_COLOR,
                    "reference": True,
                }
            )
        for (model, effect), color in zip(
            report["models"].items(), figures.MODEL_COLORS, strict=False
        ):
            shown = effect.get("outcome_scale") or effect
            note = " (outcome scale)" if effect.get("outcome_scale") else ""
            star = " *" if model == report["verdict_model"] else ""
            rows.append(
                {
                    "label": f"{model}{note}{star}",
                    "color": color,
                    **{k: shown[k] for k in ("mean", "ci_low", "ci_high")},
                }
            )
        ci = f"{100 * report['ci_prob']:.0f}% intervals"
        xlabel = f"effect of {report['treatment']} on {self.outcome_label} ({ci})"
        fig = figures.effects_on_one_axis(
            rows,
            xlabel,
            "Pooled effects: every rung, the original and the published (* the verdict's rung)",
        )
        return self.save(fig, "ladder.verdict")

    def savage_dickey_figure(self):
        """The verdict rung's effect: its prior and posterior at zero, when its prior is
        one the Savage-Dickey ratio can use (fixed, not hierarchical)."""
        model = self.replication["verdict_model"]
        effect = self.replication["models"][model]
        if effect.get("savage_dickey") is None:
            return None
        treatment = self.replication["treatment"]
        fitted = loaders.read_posterior(self.fit(model, "posterior"), groups=("posterior",))
        posterior = fitted["posterior"][treatment].values.ravel()
        prior = bf.prior_draws(effect["prior"], prior_draws_seed(self.dataset, model))
        title = (
            f"{model}: the effect of {treatment}, its prior {bf.prior_text(effect['prior'])}\n"
            "and posterior; their ratio at zero is the Savage-Dickey BF01"
        )
        fig = figures.savage_dickey(posterior, prior, effect["bf01"], treatment, title)
        return self.save(fig, "ladder.savage_dickey")

    def robustness_figure(self):
        sensitivity = self.replication["sensitivity"]
        curves = {"two-sided": sensitivity["curve"]}
        if sensitivity.get("one_sided"):
            curves[f"one-sided ({sensitivity['direction']})"] = sensitivity["one_sided"]
        test = self.replication["test_prior"]
        point = None
        prior = test.get("prior", {})
        if prior.get("dist") == "Normal" and prior.get("mu", 0) == 0:
            point = {"scale": prior["sigma"] / sensitivity["unit"], "bf01": test["bf01"]}
        self.table(pd.DataFrame(sensitivity["curve"]).drop(columns=["prior"]), "ladder.sensitivity")
        return self.save(
            figures.robustness(curves, point, sensitivity["unit_is"]), "ladder.robustness"
        )

    # -- provenance -------------------------------------------------------------------

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
                # The whole config as it was when this rung was fitted.
                "workflow config sha256": d["workflow_config_sha256"],
                "data sha256": d["data_sha256"],
                "git commit": d["provenance"]["git_commit"],
                "tree dirty": d["provenance"]["git_dirty"],
                "threads": d["provenance"].get("threads"),
            }
        return pd.DataFrame(rows).T

    def machine_table(self) -> pd.DataFrame:
        """What bit-for-bit reproduction depends on: the CPU's instruction sets, the BLAS
        and its core type, the threads."""
        p = self.diagnostics(self.models[0])["provenance"]
        cpu, blas = p.get("cpu") or {}, p.get("blas") or {}
        return pd.DataFrame(
            {
                "value": {
                    "platform": p.get("platform"),
                    "CPU": cpu.get("model"),
                    "CPU instruction sets": " ".join(cpu.get("flags") or []),
                    "BLAS": f"{blas.get('name')} {blas.get('version')}",
                    "BLAS core type": blas.get("core_type"),
                }
            }
        )

    def versions_table(self) -> pd.DataFrame:
        versions = self.diagnostics(self.models[0])["provenance"]["versions"]
        return pd.DataFrame({"version": versions})

    def hashes_table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "sha256": {
                    "raw data": self.record["raw_sha256"],
                    "processed data": self.record["processed_sha256"],
                    "dataset's report settings": self.settings["settings_sha256"],
                }
            }
        )


def _normal_quantile(ci_prob: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(0.5 + ci_prob / 2))
