"""The report's section per rung (formula, priors, diagnostics, sensitivity, trace, rank
and posterior predictive plots) and the prior predictive check of every rung's priors."""

from functools import cached_property

import pandas as pd

from replication_ladder.models.parameter_names import parse
from replication_ladder.report import figures, loaders
from replication_ladder.report import html as fragments
from replication_ladder.report.dataset import Section


class RungsSection(Section):
    """Each rung on its own, and the prior predictive check of all."""

    @cached_property
    def prior_checks(self) -> pd.DataFrame:
        checks = loaders.read_json(self.report.inputs["prior_predictive"]["check"])["rungs"]
        return pd.DataFrame(checks).set_index("model")

    def prior_predictive_table(self) -> pd.DataFrame:
        columns = ["low", "high", "share_outside", "q01", "q50", "q99", "min", "max"]
        return self.report.table(self.prior_checks[columns], "priors.predictive")

    def prior_predictive_warnings(self) -> str:
        return fragments.prior_predictive_warnings(self.prior_checks, self.report.outcome_label)

    def prior_predictive_figure(self):
        samples = loaders.read_parquet(self.report.inputs["prior_predictive"]["draws"])
        fig = figures.prior_predictive(samples, self.prior_checks, self.report.outcome_label)
        return self.report.save(fig, "priors.predictive")

    def model_header(self, model: str) -> str:
        sites = self.report.settings["levels"][model] == "sites"
        level = " (fitted to the per-site estimates)" if sites else ""
        return self.report.settings["descriptions"][model] + level

    def model_summary(self, model: str) -> pd.DataFrame:
        return self.report.table(self.report.summary(model), f"{model}.summary")

    def diagnostics_box(self, model: str) -> str:
        return fragments.diagnostics_box(self.report.diagnostics(model))

    def sensitivity_table(self, model: str) -> pd.DataFrame:
        return self.report.table(
            loaders.read_parquet(self.report.fit(model, "psense")), f"{model}.psense"
        )

    def sensitivity_figure(self, model: str):
        """The treatment's (else the first few variables') power-scaling sensitivity."""
        names = self._variables(model)
        shown = [self.report.treatment] if self.report.treatment in names else names[:3]
        tree = loaders.read_power_scaling(self.report.fit(model, "posterior"), shown)
        return self.report.save(figures.power_scaling(tree, shown), f"{model}.psense")

    def _variables(self, model: str) -> list[str]:
        """Variables worth a trace plot: not per-site effects (too many to show)."""
        names = [parse(n) for n in self.report.summary(model).index]
        return list(dict.fromkeys(name.variable for name in names if not name.one_level))

    def trace_figure(self, model: str):
        return self.report.save(
            figures.trace(self.report.posterior(model), self._variables(model)), f"{model}.trace"
        )

    def rank_figure(self, model: str):
        return self.report.save(
            figures.rank(self.report.posterior(model), self._variables(model)), f"{model}.rank"
        )

    def ppc_figure(self, model: str):
        name, observed = loaders.observed_outcome(self.report.fit(model, "posterior"))
        replicated = loaders.read_parquet(self.report.fit(model, "ppc")).to_numpy().T
        label = (
            self.report.outcome_label if self.report.settings["levels"][model] == "rows" else name
        )
        fig = figures.posterior_predictive(
            observed, replicated, label, f"Posterior predictive check: {model}"
        )
        return self.report.save(fig, f"{model}.ppc")
