"""One rung of the ladder, behind one interface, whatever wrote it: a Bambi formula
(`BambiRung`) or a PyMC model from a builder (`PymcRung`).

A rung is built once on its dataset and keeps every row's data in shared containers, so
that refits on part of the rows (leave one site out, reloo, k-fold) and on simulated
outcomes (simulation-based calibration) reuse the same model, compiled once
(replication_ladder.models.samplers). Rows left out of a refit keep their group levels: a level
with no rows has its prior as posterior, which is how a new site's effect is drawn when
its rows are scored.
"""

import logging
from abc import ABC, abstractmethod
from functools import cached_property

import numpy as np
import pandas as pd

from replication_ladder.base.errors import ModelError
from replication_ladder.models.prior import QUICK_MODE, Prior

log = logging.getLogger(__name__)

ROW_DATA_PREFIX = "rows__"
# Forward draws (predictive, new rows) in PyTensor's quick mode: a fraction of Numba's
# compile time on an empty cache, and as reproducible (sbc.prior_simulations).
FORWARD_COMPILE = {"mode": QUICK_MODE}


class Rung(ABC):
    """A built rung: the PyMC model (row data in shared containers) and what it needs to
    be sampled, scored, summarised and reported."""

    def __init__(self, spec: dict, data: pd.DataFrame, model):
        self.spec = spec
        self.data = data  # the rows the model is built on
        self.model = model
        (self.observed,) = model.observed_RVs
        # A row dim's labels (a site table's site names), restored when all rows are set.
        self.row_labels = {dim: model.coords.get(dim) for dim in self.row_dims}

    @property
    def where(self) -> str:
        return f"datasets.{self.spec['dataset']}.models.{self.spec['model']}"

    @property
    def n_rows(self) -> int:
        return len(self.data)

    # -- the row data -----------------------------------------------------------------

    @cached_property
    def row_variables(self) -> dict:
        """The shared variables holding one value per row, by name."""
        from pytensor.compile import SharedVariable
        from pytensor.graph.traversal import ancestors

        found = {}
        for variable in ancestors([self.observed, self.model.rvs_to_values[self.observed]]):
            if isinstance(variable, SharedVariable) and getattr(variable.type, "ndim", 0) >= 1:
                value = variable.get_value(borrow=True)
                if np.shape(value)[0] == self.n_rows:
                    found[variable.name] = variable
        return found

    @cached_property
    def row_dims(self) -> dict:
        """The shared lengths of the observed variable's dims, by name."""
        from pytensor.compile import SharedVariable

        dims = self.model.named_vars_to_dims.get(self.observed.name) or ()
        return {
            dim: self.model.dim_lengths[dim]
            for dim in dims
            if isinstance(self.model.dim_lengths.get(dim), SharedVariable)
        }

    @cached_property
    def full_rows(self) -> dict[str, np.ndarray]:
        """Every row's values, as built (a refit takes a subset of them)."""
        return {name: np.asarray(v.get_value()).copy() for name, v in self.row_variables.items()}

    @property
    @abstractmethod
    def observed_data_name(self) -> str:
        """The shared variable holding the observed outcome."""

    def rows(self, index=None, observed: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Values of the shared containers for a subset of the rows (all when None),
        the outcome optionally replaced (a simulated one)."""
        index = np.arange(self.n_rows) if index is None else np.asarray(index)
        values = {name: value[index] for name, value in self.full_rows.items()}
        if observed is not None:
            values[self.observed_data_name] = np.asarray(
                observed, dtype=values[self.observed_data_name].dtype
            )
        values |= {dim: np.asarray(len(index), dtype="int64") for dim in self.row_dims}
        return values

    def set_rows(self, values: dict[str, np.ndarray]) -> None:
        """Put values into the model's shared containers (PyMC's own sampler reads them)."""
        for name, value in values.items():
            if name in self.row_dims:  # the dim's coordinate values must follow its length
                labels = self.row_labels[name]
                if labels is None or len(labels) != int(value):
                    labels = np.arange(int(value))
                self.model.set_dim(name, int(value), coord_values=labels)
            else:
                self.row_variables[name].set_value(value)

    # -- what the rung says about itself ----------------------------------------------

    @abstractmethod
    def description(self) -> str:
        """What `print(model)` shows: formula, family, link and the priors used."""

    @abstractmethod
    def priors(self) -> dict:
        """The priors the model actually used, by term."""

    @property
    def stored_variables(self) -> list[str]:
        """The variables a fit keeps: free ones and group effects, never per-row ones."""
        rows = {self.observed.name, *self.row_dims}
        names = []
        for name in [v.name for v in self.model.free_RVs] + [
            v.name for v in self.model.deterministics
        ]:
            dims = self.model.named_vars_to_dims.get(name) or ()
            if not rows & set(dims):
                names.append(name)
        return names

    def finish(self, idata):
        """The draws as reported (Bambi's uncentred intercept); in place."""
        return idata

    def unfinish(self, posterior):
        """The draws in the model's own parameterisation (inverse of `finish`)."""
        return posterior

    @abstractmethod
    def posterior_predictive(self, idata, n_draws: int, seed: int) -> np.ndarray:
        """`n_draws` replicated datasets (draws spread evenly over the chains)."""

    @abstractmethod
    def predict(self, posterior, rows: pd.DataFrame, seed: int):
        """Draws of the expected value and of a new observation for new rows."""

    def moment_match_model(self):
        return self.model

    def outcome_effect(self, idata, treatment: str, n_draws: int, seed: int) -> np.ndarray | None:
        """The treatment's effect on the expected outcome, where its coefficient is not
        that effect (see BambiRung)."""
        return None


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
        tree = _thinned(idata, n_draws)
        predicted = self.bambi_model.predict(tree, kind="response", inplace=False, random_seed=seed)
        (values,) = predicted["posterior_predictive"].to_dataset().data_vars.values()
        return np.asarray(values.values).reshape(n_draws, -1)

    def predict(self, posterior, rows: pd.DataFrame, seed: int):
        """Bambi's model.predict with kind "response" (which adds the response parameters
        on the way)."""
        predicted = self.bambi_model.predict(
            posterior, kind="response", data=rows, inplace=False, random_seed=seed
        )
        expected = predicted["posterior"][self.bambi_model.family.likelihood.parent]
        (observed,) = predicted["posterior_predictive"].to_dataset().data_vars.values()
        return _draws_by_row(expected), _draws_by_row(observed)

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
        tree = _thinned(idata, n_draws)
        expected = []
        for level in (0, 1):
            rows = self.data.assign(**{treatment: level})
            predicted = self.bambi_model.predict(
                tree, kind="response_params", data=rows, inplace=False, random_seed=seed
            )["posterior"]
            parent = predicted[self.bambi_model.family.likelihood.parent]
            if family in ORDINAL_FAMILIES:  # category probabilities: the mean of the levels
                (level_dim,) = (d for d in parent.dims if d not in ("chain", "draw", "__obs__"))
                values = np.asarray(self.bambi_model.response_term.levels, dtype=float)
                parent = (parent * xr_array(values, level_dim)).sum(level_dim)
            expected.append(parent.mean("__obs__").values.ravel())
        return expected[1] - expected[0]


def xr_array(values: np.ndarray, dim: str):
    import xarray as xr

    return xr.DataArray(values, dims=[dim])


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
            _thinned(idata, n_draws),
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
        return _draws_by_row(expected), _draws_by_row(observed)


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


def _thinned(idata, n_draws: int):
    """`n_draws` posterior draws spread evenly over the chains, as one chain."""
    import xarray as xr

    stacked = idata["posterior"].to_dataset().stack(sample=("chain", "draw"))
    picks = np.linspace(0, stacked.sizes["sample"] - 1, n_draws).round().astype(int)
    subset = (
        stacked.isel(sample=picks)
        .drop_vars(["sample", "chain", "draw"])
        .rename(sample="draw")
        .assign_coords(draw=np.arange(n_draws))
        .expand_dims(chain=[0])
        .transpose("chain", "draw", ...)
    )
    return xr.DataTree.from_dict({"posterior": subset})


def _draws_by_row(values) -> np.ndarray:
    """(chain, draw, rows) draws as a (draws, rows) array."""
    array = np.asarray(values.values)
    return array.reshape(array.shape[0] * array.shape[1], -1)


ORDINAL_FAMILIES = ("cumulative", "sratio")


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
    """A formula rung's Bambi model, built, with its priors resolved (priors.py)."""
    import bambi as bmb

    from replication_ladder.models.formulas import formula_terms
    from replication_ladder.models.ordered_logit import use_two_cdfs
    from replication_ladder.models.priors import resolved_priors

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


def build_rung(spec: dict, data: pd.DataFrame) -> Rung:
    """Build the rung `spec` describes on the rows of `data` its kind can use; errors
    name dataset, model and term."""
    from replication_ladder.models.kinds import kind_of
    from replication_ladder.models.samplers import check_sampler_available

    where = f"datasets.{spec['dataset']}.models.{spec['model']}"
    check_sampler_available(spec["sampling"]["sampler"], f"{where}.sampling.sampler")
    kind = kind_of(spec, where)
    return kind.build(spec, kind.usable_rows(spec, data, where), where)
