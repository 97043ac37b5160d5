"""`kind: pymc`: a hand-written PyMC model, named by the dotted path of its builder
(builders.py documents what a builder provides)."""

from html import escape

import pandas as pd

from replication_ladder.builders import resolve_builder
from replication_ladder.errors import ConfigError
from replication_ladder.kinds.base import RungKind
from replication_ladder.priors import BAMBI_DEFAULTS, check_rung_priors


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
        if entry["priors"] == BAMBI_DEFAULTS:
            raise ConfigError(
                f"{where}.priors: a pymc rung has no Bambi defaults; state its priors "
                "by its parameters, or leave them out for the builder's own"
            )
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

    def build(self, spec: dict, data: pd.DataFrame, where: str):
        from replication_ladder.rungs import PymcRung

        return PymcRung(spec, data, self.builder(spec, where))
