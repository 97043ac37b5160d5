"""`kind: bambi`: a Bambi formula and family, with priors by term."""

import logging
from html import escape

import pandas as pd

from replication_ladder.base.errors import ConfigError
from replication_ladder.models.families import DISCRETE_FAMILIES, FAMILIES, FAMILY_PARAMETERS
from replication_ladder.models.formulas import formula_terms
from replication_ladder.models.kinds.base import RungKind
from replication_ladder.models.priors import check_family, check_rung_priors, has_rule

log = logging.getLogger(__name__)


class BambiFormula(RungKind):
    required = ("formula",)

    def _terms(self, entry: dict, where: str):
        return formula_terms(entry["formula"], f"{where}.formula")

    def columns(self, entry: dict, where: str) -> tuple[str, list[str]]:
        variables, _, (response,), _ = self._terms(entry, where)
        return response, sorted(variables - {response})

    def group_factors(self, entry: dict, where: str) -> frozenset[str]:
        return self._terms(entry, where)[3]

    def likelihood(self, entry: dict, where: str) -> str:
        return "discrete" if entry["family"] in DISCRETE_FAMILIES else "continuous"

    def respects_design(self, entry: dict, clusters: set[str], where: str) -> bool:
        return clusters <= self.group_factors(entry, where)

    def family(self, entry: dict) -> str | None:
        return entry["family"]

    def effect_scale(self, entry: dict) -> str:
        family = FAMILIES.get(entry["family"])
        return family.effect_scale if family else f"{entry['family']}'s linear predictor"

    def auxiliary_parameters(self, entry: dict) -> tuple[str, ...]:
        return tuple(FAMILY_PARAMETERS.get(entry["family"], ()))

    def description(self, entry: dict) -> str:
        formula, family = escape(entry["formula"]), escape(entry["family"])
        return f"<code>{formula}</code>, family <code>{family}</code>"

    def check(self, entry: dict, dataset: dict, model_spec: dict, where: str) -> None:
        variables, terms, _, _ = self._terms(entry, where)
        columns = dataset["columns"]
        missing = sorted(variables - set(columns))
        if missing:
            raise ConfigError(
                f"{where}.formula: column {missing[0]!r} is not in "
                f"{where.rsplit('.models.', 1)[0]}.columns (declared: {', '.join(columns)})"
            )
        family = entry["family"]
        if family not in FAMILY_PARAMETERS:
            raise ConfigError(
                f"{where}.family: unknown family {family!r} "
                f"(Bambi offers: {', '.join(sorted(FAMILY_PARAMETERS))})"
            )
        treatment = (dataset["replication"] or {}).get("treatment")
        own = terms | set(FAMILY_PARAMETERS[family])
        check_rung_priors(entry["priors"], own, where, treatment)
        check_family(family, dataset["outcome"], where)
        unstated = sorted(own - set(entry["priors"] if entry["priors"] != "bambi" else own))
        if unstated and not has_rule(family, dataset["outcome"]["range"]):
            raise ConfigError(
                f"{where}.priors: no prior for {', '.join(unstated)}: a {family} rung has default "
                "priors only from the outcome's range"
                + ("" if family in FAMILIES else " in the families the ladder states them for")
                + f" ({where.rsplit('.models.', 1)[0]}.outcome.range); state them, or write "
                "priors: bambi for Bambi's data-scaled defaults"
            )

    def usable_rows(self, spec: dict, data: pd.DataFrame, where: str) -> pd.DataFrame:
        """Bambi would drop rows missing any of the formula's columns silently; dropping
        them here keeps row numbers, LOO and refits aligned, and says so."""
        columns = sorted(self._terms(spec, where)[0])
        complete = data[columns].notna().all(axis=1)
        if not complete.all():
            log.warning(
                "%s/%s: %d rows miss a value in %s and are left out of this model",
                spec["dataset"],
                spec["model"],
                int((~complete).sum()),
                ", ".join(columns),
            )
        return data[complete].reset_index(drop=True)

    def build(self, spec: dict, data: pd.DataFrame, where: str):
        from replication_ladder.models.rungs import BambiRung, bambi_model

        return BambiRung(spec, data, bambi_model(spec, data, where))
