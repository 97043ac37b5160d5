"""The report's section on the model-averaged meta-analysis: which of the four models
the data favour, the inclusion Bayes factors and how they move with the priors, the
averaged estimates, and the forest and funnel plots."""

from functools import cached_property

import pandas as pd

from replication_ladder.data.effect_sizes import LABELS
from replication_ladder.models.prior_spec import prior_text
from replication_ladder.report import loaders, meta_figures
from replication_ladder.report.dataset import Section
from replication_ladder.report.html import escape

MODEL_NAMES = {
    "fixed_null": "fixed effect, no effect",
    "fixed_effect": "fixed effect",
    "random_null": "random effects, no effect",
    "random_effect": "random effects",
}


def _interval(summary: dict | None) -> str:
    if not summary:
        return ""
    return f"{summary['mean']:.2f} [{summary['ci_low']:.2f}, {summary['ci_high']:.2f}]"


class MetaAnalysisSection(Section):
    """Tables and figures of results/{dataset}/model_averaging.json."""

    @cached_property
    def averaging(self) -> dict | None:
        return loaders.read_json(self.report.inputs.get("model_averaging"))

    @property
    def effect_label(self) -> str:
        unit, outcome = self.averaging["effect_size"], self.report.settings["outcome"]
        if unit != "raw" or not outcome["unit"]:
            return LABELS[unit]
        return f"{LABELS[unit]} in {outcome['unit']}"

    def sentence(self) -> str:
        inclusion, averaged = self.averaging["inclusion"], self.averaging["averaged"]
        ci = f"{100 * self.averaging['ci_prob']:.0f}%"
        return escape(
            f"Averaged over the four models, the data are {inclusion['effect_bf10']:.3g} times "
            f"as likely under an effect as under none (inclusion BF10), and "
            f"{inclusion['heterogeneity_bf']:.3g} times as likely under heterogeneity across "
            f"sites as under none. If there is an effect, it is "
            f"{_interval(averaged['effect'])} ({ci} interval, {self.effect_label}; averaged "
            f"over all four models, the nulls' zero included, "
            f"{_interval(averaged['effect_all_models'])}); a new "
            f"site's effect would lie in {_interval(averaged['prediction'])}; tau is "
            f"{_interval(averaged['tau'])} and I^2 {_interval(averaged['i2'])}%. Priors from the "
            f"{self.averaging['prior_source']} rung: effect "
            f"{prior_text(self.averaging['priors']['effect'])}, tau "
            f"{prior_text(self.averaging['priors']['tau'])}."
        )

    def models_table(self) -> pd.DataFrame:
        rows = {
            MODEL_NAMES[name]: {
                "prior probability": model["prior_probability"],
                "log marginal likelihood": model["log_marginal_likelihood"],
                "posterior probability": model["posterior_probability"],
                "effect": _interval(model["effect"]),
                "tau": _interval(model["tau"]),
            }
            for name, model in self.averaging["models"].items()
        }
        table = pd.DataFrame.from_dict(rows, orient="index")
        table.index.name = "model"
        return self.report.table(table, "meta.models")

    def forest_figure(self):
        replication = self.report.replication or {}
        rung = (replication.get("models") or {}).get(self.averaging["prior_source"]) or {}
        sites = (rung.get("site_effects") or {}).get("sites")
        original = (replication.get("original") or {}).get("effect")
        fig = meta_figures.meta_forest(
            self.report.site_estimates,
            pd.DataFrame(sites) if sites else None,
            self.averaging["averaged"],
            original,  # in the data's unit: the verdict converted it
            self.effect_label,
            self.averaging["ci_prob"],
        )
        return self.report.save(fig, "meta.forest")

    def sensitivity_figure(self):
        rows = pd.DataFrame(self.averaging["sensitivity"])
        self.report.table(rows, "meta.sensitivity")
        return self.report.save(meta_figures.inclusion_sensitivity(rows), "meta.sensitivity")

    def funnel_figure(self):
        fig = meta_figures.funnel(
            self.report.site_estimates,
            self.averaging["averaged"]["effect"]["mean"],
            self.averaging.get("small_studies"),
            self.effect_label,
        )
        return self.report.save(fig, "meta.funnel")

    def funnel_note(self) -> str:
        return (
            "Egger's regression test asks whether small sites report other effects than "
            "large ones. Every lab of a pre-registered multi-lab study reports its result "
            "whatever it is, so an asymmetry here is not publication bias: it would mean the "
            "effect varies with the lab's size; with few labs the test has little power."
        )
