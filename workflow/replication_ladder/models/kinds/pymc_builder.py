"""`kind: pymc`: a hand-written PyMC model, named by the dotted path of its builder
(builders.py documents what a builder provides)."""

from html import escape

import numpy as np
import pandas as pd

from replication_ladder.base.errors import ConfigError
from replication_ladder.models.builders import resolve_builder
from replication_ladder.models.kinds.base import RungKind
from replication_ladder.models.outcome_priors import check_rung_priors
from replication_ladder.models.rungs import FORWARD_COMPILE, Rung, draws_by_row, thinned_draws


class PymcBuilder(RungKind):
    required = ("builder",)

    def builder(self, entry: dict, where: str):
        return resolve_builder(entry["builder"], f"{where}.builder")

    def columns(self, entry: dict, where: str) -> tuple[str, list[str]]:
        builder = self.builder(entry, where)
        return builder.response, list(builder.predictors)

    def level(self, entry: dict, where: str) -> str:
        return getattr(self.builder(entry, where), "level", "rows")

    def likelihood(self, entry: dict, where: str) -> str:
        return getattr(self.builder(entry, where), "likelihood", "continuous")

    def respects_design(self, entry: dict, clusters: set[str], where: str) -> bool:
        return bool(getattr(self.builder(entry, where), "respects_design", False))

    def code_modules(self, entry: dict) -> list[str]:
        return [entry["builder"].rpartition(".")[0]]

    def description(self, entry: dict) -> str:
        return f"PyMC model built by <code>{escape(entry['builder'])}</code>"

    def check(self, entry: dict, dataset: dict, model_spec: dict, where: str) -> None:
        builder = self.builder(entry, where)
        if isinstance(entry["priors"], str):
            self._check_prior_set(entry["priors"], builder, dataset, where)
        else:
            treatment = (dataset["replication"] or {}).get("treatment")
            names = builder.parameters(model_spec)
            check_rung_priors(entry["priors"], set(names), where, treatment)
        for key in getattr(builder, "needs", ()):
            if key == "treatment" and "summary" in dataset:
                continue  # its rows are already effects of the treatment
            if not (dataset.get(key) or (dataset["replication"] or {}).get(key)):
                raise ConfigError(
                    f"{where}.builder: {entry['builder']} needs "
                    f"{where.rsplit('.models.', 1)[0]}.{key}"
                )

    @staticmethod
    def _check_prior_set(name: str, builder, dataset: dict, where: str) -> None:
        """A set of priors by name: one the builder has, on the effect size it is for."""
        known = getattr(builder, "standardized_prior_sets", ())
        if name not in known:
            raise ConfigError(
                f"{where}.priors: {name!r} names no set of priors this rung's builder has "
                f"(it has: {', '.join(known) or 'none'}); state its priors by its parameters, "
                "or leave them out for the builder's own"
            )
        if dataset.get("effect_size", "raw") == "raw":
            raise ConfigError(
                f"{where}.priors: {name}'s priors are on a standardized effect; set "
                f"{where.rsplit('.models.', 1)[0]}.effect_size to d or g"
            )

    def build(self, spec: dict, data: pd.DataFrame, where: str):
        return PymcRung(spec, data, self.builder(spec, where))


class PymcRung(Rung):
    """A rung from a builder: a PyMC model written by hand with pm.Data containers."""

    def __init__(self, spec: dict, data: pd.DataFrame, builder):
        self.builder = builder
        super().__init__(spec, data, builder(data, spec))

    @property
    def observed_data_name(self) -> str:
        return self.builder.observed_name

    def description(self) -> str:
        return str(self.model.str_repr())

    def priors(self) -> dict:
        """The priors the builder declares, by parameter, written as in the config."""
        return self.builder.priors(self.data, self.spec)

    @property
    def stored_variables(self) -> list[str]:
        """Free variables and deterministics, but not the expected value of each row (it
        would double the trace); a rung fitted to sites keeps its per-site effects."""
        names = [v.name for v in self.model.free_RVs + self.model.deterministics]
        if self.builder.level == "rows":
            names = [n for n in names if n in super().stored_variables]
        return [n for n in names if n != self.builder.expected]

    def posterior_predictive(self, idata, n_draws: int, seed: int) -> np.ndarray:
        import pymc as pm

        self.set_rows(self.rows())
        predicted = pm.sample_posterior_predictive(
            thinned_draws(idata, n_draws),
            model=self.model,
            random_seed=seed,
            progressbar=False,
            compile_kwargs=FORWARD_COMPILE,
        )
        values = predicted["posterior_predictive"][self.observed.name]
        return np.asarray(values.values).reshape(n_draws, -1)

    def predict(self, posterior, rows: pd.DataFrame, seed: int):
        """pm.set_data with the new rows, then pm.sample_posterior_predictive."""
        import pymc as pm

        with self.model:
            pm.set_data(self.builder.data(rows), coords=self.builder.coords(rows))
            predicted = pm.sample_posterior_predictive(
                posterior,
                var_names=[self.builder.expected, self.builder.response],
                random_seed=seed,
                progressbar=False,
                compile_kwargs=FORWARD_COMPILE,
            )
        expected = predicted["posterior_predictive"][self.builder.expected]
        observed = predicted["posterior_predictive"][self.builder.response]
        return draws_by_row(expected), draws_by_row(observed)
