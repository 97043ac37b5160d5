"""`kind: bambi`: a Bambi formula and family, with priors by term."""

import logging
from html import escape

import numpy as np
import pandas as pd
import xarray as xr

from replication_ladder.base.errors import ConfigError, ModelError
from replication_ladder.models.densities import draws_per_block
from replication_ladder.models.families import (
    DISCRETE_FAMILIES,
    FAMILIES,
    FAMILY_PARAMETERS,
    ORDINAL_FAMILIES,
)
from replication_ladder.models.formulas import formula_terms
from replication_ladder.models.kinds.base import RungKind
from replication_ladder.models.outcome_priors import check_family, check_rung_priors, has_rule
from replication_ladder.models.prior_spec import Prior
from replication_ladder.models.rungs import (
    ROW_DATA_PREFIX,
    AbsorbingTerm,
    Rung,
    draws_by_row,
    thinned_draws,
)

PREDICTIVE_VALUES = 2**20  # draws x rows a call of Bambi's predict

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
        return BambiRung(spec, data, bambi_model(spec, data, where))


class BambiRung(Rung):
    """A formula rung: Bambi builds the model; its design-matrix constants are moved into
    shared containers so that rows can be swapped."""

    def __init__(self, spec: dict, data: pd.DataFrame, bambi_model):
        self.bambi_model = bambi_model
        model, self._observed_data_name = _share_row_constants(bambi_model.backend.model, len(data))
        bambi_model.backend.model = model
        super().__init__(spec, data, model)

    @property
    def observed_data_name(self) -> str:
        return self._observed_data_name

    def description(self) -> str:
        return str(self.bambi_model)

    def priors(self) -> dict:
        priors = {}
        for name, component in self.bambi_model.parameters.items():
            if hasattr(component, "terms"):
                for term_name, term in component.terms.items():
                    if getattr(term, "prior", None) is not None:
                        priors[term_name] = Prior.from_bambi(term.prior).spec
            elif getattr(component, "prior", None) is not None:
                priors[name] = Prior.from_bambi(component.prior).spec
        return priors

    @property
    def stored_variables(self) -> list[str]:
        # Bambi's choice: every unobserved variable but the likelihood's own parameters.
        from pymc.util import get_default_varnames

        names = [
            v.name
            for v in get_default_varnames(
                self.model.unobserved_value_vars, include_transformed=False
            )
        ]
        params = self.bambi_model.family.likelihood.params
        deterministic = {v.name for v in self.model.deterministics}
        return [n for n in names if not (n in params and n in deterministic)]

    def finish(self, idata):
        # Offsets stay: moment matching needs every free variable of the model.
        return self.bambi_model.backend._clean_results(
            idata, omit_offsets=False, include_response_params=False
        )

    def unfinish(self, posterior):
        import xarray as xr

        tree = xr.DataTree.from_dict({"posterior": posterior})
        # Bambi reports the intercept of uncentred predictors; the PyMC graph has the
        # centred one.
        return self.bambi_model._re_center_intercept(tree)["posterior"].to_dataset()

    def posterior_predictive(self, idata, n_draws: int, seed: int) -> np.ndarray:
        """Bambi's predictions, a few draws at a time: its group terms go through a sparse
        product that holds about 200 bytes per draw and row (2 GB for 100 draws of
        108,000 rows)."""
        tree = thinned_draws(idata, n_draws)
        size = draws_per_block(self.n_rows, largest=n_draws, values=PREDICTIVE_VALUES)
        parts = []
        for number, start in enumerate(range(0, n_draws, size)):
            part = tree["posterior"].to_dataset().isel(draw=slice(start, start + size))
            predicted = self.bambi_model.predict(
                xr.DataTree.from_dict({"posterior": part}),
                kind="response",
                inplace=False,
                random_seed=seed + number,
            )
            (values,) = predicted["posterior_predictive"].to_dataset().data_vars.values()
            parts.append(np.asarray(values.values).reshape(part.sizes["draw"], -1))
        return np.concatenate(parts)

    def predict(self, posterior, rows: pd.DataFrame, seed: int):
        """Bambi's model.predict with kind "response" (which adds the response parameters
        on the way)."""
        predicted = self.bambi_model.predict(
            posterior, kind="response", data=rows, inplace=False, random_seed=seed
        )
        expected = predicted["posterior"][self.bambi_model.family.likelihood.parent]
        (observed,) = predicted["posterior_predictive"].to_dataset().data_vars.values()
        return draws_by_row(expected), draws_by_row(observed)

    def moment_match_model(self):
        return self.bambi_model

    def outcome_effect(self, idata, treatment: str, n_draws: int, seed: int) -> np.ndarray | None:
        """The treatment's effect on the expected outcome when its coefficient is on
        another scale (an ordinal rung's latent scale): per draw, the mean over the rows
        of E[y | treated] - E[y | control], each row keeping its own covariates and
        group effects. None for an identity-link family (the coefficient is that effect)."""
        family = self.spec["family"]
        if family == "gaussian" or treatment not in self.data:
            return None
        posterior = thinned_draws(idata, n_draws)["posterior"].to_dataset()
        levels = self.bambi_model.response_term.levels
        categories = 1 if levels is None else len(levels)
        size = draws_per_block(self.n_rows * categories, largest=n_draws, values=PREDICTIVE_VALUES)
        return np.concatenate(
            [
                self._mean_difference(
                    posterior.isel(draw=slice(start, start + size)), treatment, seed
                )
                for start in range(0, n_draws, size)
            ]
        )

    def absorbing_terms(self, effect: str) -> list[AbsorbingTerm]:
        return absorbing_terms(self.bambi_model, self.model, effect)

    def _mean_difference(self, posterior, treatment: str, seed: int) -> np.ndarray:
        """Per draw, the mean over the rows of E[y | treated] - E[y | control]."""
        tree = xr.DataTree.from_dict({"posterior": posterior})
        expected = []
        for level in (0, 1):
            rows = self.data.assign(**{treatment: level})
            predicted = self.bambi_model.predict(
                tree, kind="response_params", data=rows, inplace=False, random_seed=seed
            )["posterior"]
            parent = predicted[self.bambi_model.family.likelihood.parent]
            if self.spec["family"] in ORDINAL_FAMILIES:  # category probabilities: their mean
                (level_dim,) = (d for d in parent.dims if d not in ("chain", "draw", "__obs__"))
                values = np.asarray(self.bambi_model.response_term.levels, dtype=float)
                parent = (parent * xr.DataArray(values, dims=[level_dim])).sum(level_dim)
            expected.append(parent.mean("__obs__").values.ravel())
        return expected[1] - expected[0]


def absorbing_terms(bambi_model, model, effect: str) -> list[AbsorbingTerm]:
    """Read off Bambi's design: the effect a numeric common term of the linear
    predictor (centred where the component has an intercept), each non-centred group
    term with one predictor whose column, times a value per level, is the effect's
    column on every row. The verdict checks the reading on the model's graph."""
    component = bambi_model.parameters[bambi_model.family.likelihood.parent]
    common = getattr(component, "common_terms", {}).get(effect)
    if common is None or np.ndim(common.data) != 1:
        return []
    column = np.asarray(common.data, dtype=float)
    if component.intercept_term is not None and bambi_model.center_predictors:
        column = column - column.mean()  # as Bambi's backend puts it in the predictor
    free = {rv.name for rv in model.free_RVs}
    levels = {v.name for v in model.deterministics}
    terms = []
    for name, term in component.group_specific_terms.items():
        offset, sd = f"{name}_offset", f"{name}_sigma"
        if {offset, sd} - free or name not in levels or np.ndim(term.predictor) != 1:
            continue
        shift = level_shift(column, term.predictor, term.group_index, len(term.groups))
        if shift is not None:
            terms.append(AbsorbingTerm(name, offset, sd, shift))
    return terms


def level_shift(effect_column, predictor, group_index, n_levels: int) -> np.ndarray | None:
    """The value c[g] per level with effect_column = c[group] x predictor on every row (a
    level's least-squares fit, then checked exactly), or None where there is none: the
    effect varies within a level of an intercept term."""
    x = np.asarray(effect_column, dtype=float)
    p = np.asarray(predictor, dtype=float)
    index = np.asarray(group_index)
    weight = np.bincount(index, p * p, n_levels)
    shift = np.bincount(index, x * p, n_levels) / np.where(weight > 0, weight, 1.0)
    tolerance = 1e-12 * max(1.0, float(np.abs(x).max(initial=0.0)))
    return shift if np.abs(x - shift[index] * p).max(initial=0.0) <= tolerance else None


def ordered_response(spec: dict, data: pd.DataFrame) -> pd.DataFrame:
    """An ordinal family models an ordered category: a numeric rating scale becomes one,
    its levels in numeric order (the values stay the levels' names)."""
    if spec["family"] not in ORDINAL_FAMILIES:
        return data
    import formulae

    (response,) = formulae.model_description(spec["formula"]).response.term.var_names
    values = data[response]
    if isinstance(values.dtype, pd.CategoricalDtype) and values.cat.ordered:
        return data
    levels = sorted(values.dropna().unique())
    data = data.copy()
    data[response] = pd.Categorical(values, categories=levels, ordered=True)
    return data


def uncentred_predictors(model) -> dict[str, tuple[float, float]]:
    """Numeric predictors (mean, SD) whose mean is further from 0 than their SD. Bambi
    centres predictors only where an intercept absorbs their means; an ordinal family has
    none, so such a predictor moves every threshold, and the thresholds' prior is that of
    the predictor at 0."""
    terms = model.parameters[model.family.likelihood.parent].common_terms.values()
    moments = {
        term.name: (float(np.mean(term.data)), float(np.std(term.data)))
        for term in terms
        if term.kind == "numeric" and np.ndim(term.data) == 1
    }
    return {name: (mean, sd) for name, (mean, sd) in moments.items() if abs(mean) > sd}


def bambi_model(spec: dict, data: pd.DataFrame, where: str):
    """A formula rung's Bambi model, built, with its priors resolved (outcome_priors.py)."""
    import bambi as bmb

    from replication_ladder.models.formulas import formula_terms
    from replication_ladder.models.ordered_logit import use_two_cdfs
    from replication_ladder.models.outcome_priors import resolved_priors

    data = ordered_response(spec, data)
    terms = sorted(formula_terms(spec["formula"], f"{where}.formula")[1])
    priors = {}
    for term, prior in resolved_priors(spec, data, terms).items():
        try:
            priors[term] = Prior(prior).bambi()
        except Exception as error:
            raise ModelError(f"{where}.priors.{term}: {error}") from error
    try:
        model = bmb.Model(spec["formula"], data, family=spec["family"], priors=priors or None)
        if spec["family"] == "cumulative":
            use_two_cdfs(model.family)
        model.build()
        _release_group_one_hots(model)
    except Exception as error:
        raise ModelError(
            f"{where}: cannot build {spec['formula']!r} ({spec['family']}): "
            f"{type(error).__name__}: {error}"
        ) from error
    if spec["family"] in ORDINAL_FAMILIES:
        for name, (mean, sd) in uncentred_predictors(model).items():
            log.warning(
                "%s.formula: %s has mean %.3g and SD %.3g; an ordinal family has no "
                "intercept, so Bambi does not centre it: the thresholds and their prior are "
                "those of %s = 0, and they mix slowly. Write center(%s) in the formula.",
                where,
                name,
                mean,
                sd,
                name,
                name,
            )
    return model


def _release_group_one_hots(model) -> None:
    """Formulae keeps each grouping factor as a dense one-hot, rows x levels of int64
    (the RRR's participants at 4x: 1.5 GB of a 2.2-GB model), after Bambi has taken the
    index it uses from it (`GroupSpecificTerm.group_index`). Nothing reads it again
    (Bambi 0.21, formulae 0.6: predictions encode new rows from the factor's contrast
    matrix), so the fit keeps the index alone. Formulae has no sparse encoding of a
    factor to ask for instead."""
    for component in model.parameters.values():
        design = getattr(component, "design", None)
        if design is None or design.group is None:
            continue
        for term in design.group.terms.values():
            term.factor.data = None
            for factor in term.factor.components:
                factor.value = None


def _share_row_constants(model, n_rows: int):
    """The model with every constant that holds one value per row (design matrices, group
    indices, the outcome) replaced by a shared variable of free length; and the name of
    the one holding the outcome. The graph is rebuilt around them, so that no static
    shape pins the number of rows."""
    import pytensor
    from pymc.model.fgraph import ModelObservedRV, fgraph_from_model, model_from_fgraph
    from pytensor.graph.basic import Constant
    from pytensor.graph.fg import FunctionGraph
    from pytensor.graph.replace import clone_replace

    fgraph, _ = fgraph_from_model(model, inlined_views=True)
    observed_data = {
        node.inputs[1] for node in fgraph.apply_nodes if isinstance(node.op, ModelObservedRV)
    }
    replacements, observed_name = {}, None
    for variable in list(fgraph.variables):
        if not isinstance(variable, Constant) or getattr(variable.type, "ndim", 0) < 1:
            continue
        value = np.asarray(variable.data)
        if value.shape[0] != n_rows:
            continue
        name = f"{ROW_DATA_PREFIX}{len(replacements)}"
        shared = pytensor.shared(value.copy(), name=name, shape=(None, *value.shape[1:]))
        if variable in observed_data:
            observed_name = name
        replacements[variable] = shared
    if observed_name is None:
        raise ModelError("the observed outcome was not found among the model's row data")
    # Rebuilt node by node, so that types (static shapes) follow the new inputs.
    outputs = clone_replace(fgraph.outputs, replace=replacements, rebuild_strict=False)
    rebuilt = FunctionGraph(outputs=outputs, clone=False)
    rebuilt._coords = fgraph._coords
    rebuilt._dim_lengths = fgraph._dim_lengths
    return model_from_fgraph(rebuilt, mutate_fgraph=True), observed_name
