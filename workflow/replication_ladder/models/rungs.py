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
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from replication_ladder.models.prior_spec import QUICK_MODE

log = logging.getLogger(__name__)

ROW_DATA_PREFIX = "rows__"
# Forward draws (predictive, new rows) in PyTensor's quick mode: a fraction of Numba's
# compile time on an empty cache, and as reproducible (sbc.prior_simulations).
FORWARD_COMPILE = {"mode": QUICK_MODE}


@dataclass(frozen=True)
class AbsorbingTerm:
    """A non-centred group term whose levels take up any shift of a coefficient: the
    linear predictor is the same when the coefficient moves by d and level g by
    -d x shift[g] (a participant intercept where the treatment is between participants,
    the treatment's own slope across sites). The verdict's density at zero conditions
    on the levels so shifted (verdict.centred_conditional)."""

    levels: str  # the levels' deterministic, offsets x SD
    offset: str
    sd: str
    shift: np.ndarray  # one value per level


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

    def absorbing_terms(self, effect: str) -> list[AbsorbingTerm]:
        """The group terms that can take up a shift of `effect`'s coefficient (see
        AbsorbingTerm); none where the rung cannot say."""
        return []


def thinned_draws(idata, n_draws: int):
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


def draws_by_row(values) -> np.ndarray:
    """(chain, draw, rows) draws as a (draws, rows) array."""
    array = np.asarray(values.values)
    return array.reshape(array.shape[0] * array.shape[1], -1)
