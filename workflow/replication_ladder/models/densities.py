"""Pointwise log-likelihood and log-prior of posterior draws, vectorised over the draws.

One PyTensor function per rung and density, compiled once: the observed variable's
elementwise log-density (or each free variable's log-prior) with the draws as a batch
input and the row data as inputs too, so that the same function scores the rows a model
was fitted to and rows it never saw (a held-out site). Bambi's own
`compute_log_likelihood` gives the same numbers (to 1e-10, tested) about 15 times slower
on the RRR.
"""

from functools import cached_property

import numpy as np
import xarray as xr

from replication_ladder.models.parameter_names import parse
from replication_ladder.models.prior_spec import QUICK_MODE

BLOCK_VALUES = 2**22  # a (draws x rows) block's values at a time: 32 MB of float64


def draws_per_block(n_rows: int, largest: int = 1000, values: int = BLOCK_VALUES) -> int:
    """Draws to take at a time so that a (draws x rows) block stays within `values`:
    what bounds a fit's memory as its rows grow."""
    return max(1, min(largest, values // max(n_rows, 1)))


def _batched(values, shapes):
    import pytensor.tensor as pt

    return {
        v: pt.tensor(f"draws_{i}", shape=(None, *shape), dtype=v.dtype)
        for i, (v, shape) in enumerate(zip(values, shapes, strict=True))
    }


def _row_input(name: str, container):
    """An input for a row container: free in the rows, as the container (rungs.py), its
    other dims as they are (a one-column design matrix keeps the static 1 that the
    graph's broadcasting relies on)."""
    import pytensor.tensor as pt

    shape = (None, *container.type.shape[1:]) if container.type.ndim else ()
    return pt.tensor(name, shape=shape, dtype=container.type.dtype)


def batched_function(rung, outputs: list, variables: list, shapes: list, mode=None):
    """`outputs` of the rung's graph compiled as a function of a batch of draws of
    `variables` (each with its shape of one draw) and of the row containers' values:
    call it with [arrays (batch, *shape)] and a `rows` dict (rung.rows())."""
    import pytensor
    from pytensor.compile import SharedVariable
    from pytensor.graph.replace import vectorize_graph
    from pytensor.graph.traversal import ancestors

    row_names = {*rung.full_rows, *rung.row_dims}
    shared = {
        v.name: v
        for v in ancestors(outputs)
        if isinstance(v, SharedVariable) and v.name in row_names
    }
    row_inputs = {name: _row_input(name, v) for name, v in shared.items()}
    batch = _batched(variables, shapes)
    replace = {**{shared[name]: row_inputs[name] for name in shared}, **batch}
    function = pytensor.function(
        [*batch.values(), *row_inputs.values()],
        vectorize_graph(outputs, replace=replace),
        on_unused_input="ignore",
        mode=mode,
    )

    core = [output.ndim for output in outputs]

    def call(values: list[np.ndarray], rows: dict, size: int | None = None) -> list[np.ndarray]:
        """Outputs with a leading batch axis of `size` (the draws' number, by default the
        first input's length), also those no draw changes."""
        size = size if size is not None else len(values[0])
        results = function(*values, *(rows[name] for name in row_inputs))
        return [
            np.asarray(v) if np.ndim(v) > d else np.broadcast_to(v, (size, *np.shape(v)))
            for v, d in zip(results, core, strict=True)
        ]

    return call


class Densities:
    """The log densities of one rung, as functions of posterior draws."""

    def __init__(self, rung):
        self.rung = rung

    @cached_property
    def _unconstrained(self):
        from pymc.model.transform.conditioning import remove_value_transforms

        # Without value transforms the inputs are the constrained draws the posterior holds.
        return remove_value_transforms(self.rung.model)

    @cached_property
    def _value_vars(self) -> list:
        return list(self._unconstrained.value_vars)

    def _shapes(self, posterior) -> list[tuple]:
        return [posterior[v.name].shape[2:] for v in self._value_vars]

    def _flat_draws(self, posterior) -> list[np.ndarray]:
        n = posterior.sizes["chain"] * posterior.sizes["draw"]
        return [
            posterior[v.name].values.reshape(n, *shape)
            for v, shape in zip(self._value_vars, self._shapes(posterior), strict=True)
        ]

    @cached_property
    def _likelihood_graph(self):
        """The observed variable's elementwise log-density, its row data as inputs:
        (output, {shared container: input}, {name: input})."""
        from pytensor.compile import SharedVariable
        from pytensor.graph.traversal import ancestors

        model = self._unconstrained
        observed = model[self.rung.observed.name]
        elementwise = model.logp(vars=[observed], sum=False)[0]
        row_names = {*self.rung.full_rows, *self.rung.row_dims}
        shared = {
            v.name: v
            for v in ancestors([elementwise])
            if isinstance(v, SharedVariable) and v.name in row_names
        }
        inputs = {name: _row_input(name, v) for name, v in shared.items()}
        return elementwise, {shared[name]: inputs[name] for name in inputs}, inputs

    def log_likelihood(self, posterior: xr.Dataset, rows: dict | None = None) -> np.ndarray:
        """log p(y_i | theta_s) for every draw s and row i of `rows` (the shared
        containers' values; the fitted rows when None): (chain, draw, rows)."""
        import pytensor
        from pytensor.graph.replace import vectorize_graph

        rows = self.rung.rows() if rows is None else rows
        output, replace, row_inputs = self._likelihood_graph
        key = tuple(self._shapes(posterior))
        cache = self.__dict__.setdefault("_compiled_likelihood", {})
        if key not in cache:
            batch = _batched(self._value_vars, key)
            cache[key] = pytensor.function(
                [*batch.values(), *row_inputs.values()],
                vectorize_graph(output, replace={**replace, **batch}),
                on_unused_input="ignore",
            )
        function = cache[key]
        arguments = [rows[name] for name in row_inputs]
        flat = self._flat_draws(posterior)
        total = len(flat[0]) if flat else 0
        chunk = draws_per_block(len(rows[self.rung.observed_data_name]))
        values = np.concatenate(
            [
                function(*(draws[start : start + chunk] for draws in flat), *arguments)
                for start in range(0, total, chunk)
            ]
        )
        return values.reshape(posterior.sizes["chain"], posterior.sizes["draw"], *values.shape[1:])

    def log_likelihood_totals(self, posterior: xr.Dataset, rows: dict | None = None) -> np.ndarray:
        """log p(y | theta_s) summed over the rows, per draw: (chain, draw), a chunk of
        draws at a time (the rows x draws block is never held whole)."""
        chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
        flat = posterior.stack(sample=("chain", "draw")).drop_vars(["sample", "chain", "draw"])
        rows = self.rung.rows() if rows is None else rows
        chunk = draws_per_block(len(rows[self.rung.observed_data_name]))
        totals = [
            self.log_likelihood(
                flat.isel(sample=slice(start, start + chunk))
                .rename(sample="draw")
                .expand_dims(chain=1)
                .transpose("chain", "draw", ...),
                rows,
            ).sum(axis=-1)
            for start in range(0, chains * draws, chunk)
        ]
        return np.concatenate([t.ravel() for t in totals]).reshape(chains, draws)

    def log_prior(self, posterior: xr.Dataset) -> dict[str, np.ndarray]:
        """Each free variable's log prior density (summed over its own dims) per draw,
        for power-scaling sensitivity: {name: (chain, draw)}. The offsets of non-centred
        group effects are left out: their standard normal is the structure, not a prior
        anyone chose."""
        import pytensor
        from pytensor.graph.replace import vectorize_graph

        model = self._unconstrained
        free = [rv for rv in model.free_RVs if parse(rv.name).suffix != "offset"]
        if not free:
            return {}
        terms = model.logp(vars=free, sum=False)
        key = tuple(self._shapes(posterior))
        batch = _batched(self._value_vars, key)
        outputs = [
            vectorize_graph(term, replace=batch).sum(axis=tuple(range(1, term.ndim + 1)))
            for term in terms
        ]
        # A few terms per draw: NumPy's speed serves, and PyTensor's quick mode compiles
        # in a tenth of the time Numba takes to load its cached code (0.2 s against 0.5 s).
        function = pytensor.function(
            list(batch.values()), outputs, on_unused_input="ignore", mode=QUICK_MODE
        )
        values = function(*self._flat_draws(posterior))
        shape = (posterior.sizes["chain"], posterior.sizes["draw"])
        return {rv.name: np.asarray(v).reshape(shape) for rv, v in zip(free, values, strict=True)}


def log_prior_group(values: dict[str, np.ndarray], posterior: xr.Dataset) -> xr.Dataset:
    return xr.Dataset(
        {name: (("chain", "draw"), value) for name, value in values.items()},
        coords={"chain": posterior["chain"], "draw": posterior["draw"]},
    )
