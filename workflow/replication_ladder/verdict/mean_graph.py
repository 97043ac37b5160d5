"""A normal likelihood's mean as a function of the model's coefficients, read off the
rung's own PyMC graph: which coefficients have normal priors (the block), the mean's
design in them, and the rest of the mean and its SD per draw (normal_block uses them).

A non-centred group term (Bambi's, the meta-analysis's) samples offsets z and keeps its
effects b = z x SD as a deterministic; the block holds the effects b, whose prior given
the SD is N(0, SD), so that the mean is linear in them with a design that no draw
changes. The design is read by perturbing the block a coordinate (or, for a group term
whose levels each own their rows, a whole variable) at a time, and the whole is checked
against the model's log-likelihood before use (normal_block).
"""

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy import sparse

from replication_ladder.models.densities import batched_function, draws_per_block
from replication_ladder.models.parameter_names import parse
from replication_ladder.models.prior_spec import QUICK_MODE

PRIOR_CHUNK = 500  # draws a call of the block's prior (no row is involved)


@dataclass
class Block:
    """The block's variables in order, each with its coordinates' positions."""

    names: list[str] = field(default_factory=list)
    shapes: list[tuple] = field(default_factory=list)
    offsets: dict = field(default_factory=dict)  # the noncentred ones: name -> offset name
    groups: dict = field(default_factory=dict)  # name -> coordinate positions

    def add(self, name: str, shape: tuple, offset: str | None = None) -> None:
        start = sum(int(np.prod(s)) for s in self.shapes)
        self.names.append(name)
        self.shapes.append(shape)
        self.groups[name] = np.arange(start, start + int(np.prod(shape)))
        if offset is not None:
            self.offsets[name] = offset

    @property
    def size(self) -> int:
        return sum(int(np.prod(s)) for s in self.shapes)


@dataclass(frozen=True)
class SlopeScale:
    """The SD of the effect's group slopes: its block variable, its posterior name and
    its log prior density."""

    block: str
    sd: str
    log_prior: object


class MeanGraph:
    """The mean and SD of a normal (or, on the log, lognormal) likelihood as compiled
    functions of the draws, with the block's coordinates as their own inputs."""

    def __init__(self, rung, block: Block, model, log_scale: bool):
        self.rung = rung
        self.block = block
        self.model = model
        self.log_scale = log_scale

    @classmethod
    def of(cls, rung, effect: str):
        """The graph, or None when the likelihood is not normal, the effect not a free
        variable, or the mean not a function of it."""
        from pymc.model.transform.conditioning import remove_value_transforms
        from pytensor.tensor.random.basic import LogNormalRV, NormalRV

        model = remove_value_transforms(rung.model)
        observed = model[rung.observed.name]
        if not isinstance(observed.owner.op, NormalRV | LogNormalRV):
            return None
        free = {rv.name: rv for rv in model.free_RVs}
        if effect not in free:
            return None
        deterministics = {d.name: d for d in model.deterministics}
        point = model.initial_point()
        block = Block()
        block.add(effect, np.shape(point[effect]))
        for name, rv in free.items():
            if name == effect or not isinstance(rv.owner.op, NormalRV):
                continue
            parsed = parse(name)
            if parsed.suffix == "offset":
                base = name.removesuffix("_offset")
                if base in deterministics:
                    block.add(base, np.shape(point[name]), offset=name)
            else:
                block.add(name, np.shape(point[name]))
        graph = cls(rung, block, model, isinstance(observed.owner.op, LogNormalRV))
        return graph if graph.valid else None

    # -- graphs ---------------------------------------------------------------------------

    @cached_property
    def point(self) -> dict:
        """The model's initial point (values where the design is read)."""
        return self.model.initial_point()

    @property
    def _observed(self):
        return self.model[self.rung.observed.name]

    def _inputs(self):
        """The block's own inputs (effects for offsets, the value otherwise) and the
        replacements that put them in the graph."""
        deterministics = {d.name: d for d in self.model.deterministics}
        values = {v.name: v for v in self.model.value_vars}
        inputs, replace = [], {}
        for name in self.block.names:
            if name in self.block.offsets:
                variable = deterministics[name].type()
                replace[deterministics[name]] = variable
            else:
                variable = values[name]
            inputs.append(variable)
        return inputs, replace

    @property
    def _rest(self) -> list:
        """The value variables outside the block (offsets replaced by their effects)."""
        taken = set(self.block.names) | set(self.block.offsets.values())
        return [v for v in self.model.value_vars if v.name not in taken]

    def _functions(self):
        from pytensor.graph.replace import graph_replace
        from pytensor.graph.traversal import ancestors

        inputs, replace = self._inputs()
        _, _, mean, sd = self._observed.owner.inputs
        mean, sd = graph_replace([mean, sd], replace, strict=False)
        mean, sd = self.model.replace_rvs_by_values([mean, sd])
        offsets = {self.model[name] for name in self.block.offsets.values()}
        offset_values = {self.model.rvs_to_values[rv] for rv in offsets}
        reached = set(ancestors([mean, sd]))
        if reached & offset_values or set(ancestors([sd])) & set(inputs):
            return None
        rest = self._rest
        shapes = [v.type.shape for v in rest] + [tuple(s) for s in self.block.shapes]
        return batched_function(self.rung, [mean, sd], [*rest, *inputs], shapes, QUICK_MODE)

    @property
    def valid(self) -> bool:
        self.mean_sd = self._functions()
        return self.mean_sd is not None

    def _prior_function(self):
        """Per block variable its prior mean and SD given the rest (an offset's effect:
        0 and the SD that multiplies the offset)."""
        import pytensor.tensor as pt
        from pytensor.graph.replace import graph_replace

        outputs = []
        for name, shape in zip(self.block.names, self.block.shapes, strict=True):
            zeros = pt.zeros(shape)
            if name in self.block.offsets:
                offset = self.model[self.block.offsets[name]]
                det = next(d for d in self.model.deterministics if d.name == name)
                (scale,) = graph_replace([det], {offset: pt.ones(shape)}, strict=False)
                (scale,) = self.model.replace_rvs_by_values([scale])
                outputs += [zeros, scale + zeros]
            else:
                mean, sd = self.model.replace_rvs_by_values(self.model[name].owner.inputs[2:4])
                outputs += [mean + zeros, sd + zeros]
        shapes = [v.type.shape for v in self._rest]
        return batched_function(self.rung, outputs, self._rest, shapes, QUICK_MODE)

    # -- values ---------------------------------------------------------------------------

    def _rest_draws(self, posterior) -> list[np.ndarray]:
        n = posterior.sizes["chain"] * posterior.sizes["draw"]
        return [
            posterior[v.name].values.reshape(n, *posterior[v.name].shape[2:]) for v in self._rest
        ]

    def block_prior(self, posterior):
        """(draws x coordinates) prior means and precisions of the block."""
        function = self.__dict__.setdefault("_prior", self._prior_function())
        rest = self._rest_draws(posterior)
        n = posterior.sizes["chain"] * posterior.sizes["draw"]
        values = _chunked(function, rest, self.rung.rows(), n, PRIOR_CHUNK)
        means = [values[2 * i].reshape(n, -1) for i in range(len(self.block.names))]
        sds = [values[2 * i + 1].reshape(n, -1) for i in range(len(self.block.names))]
        return np.concatenate(means, axis=1), 1 / np.concatenate(sds, axis=1) ** 2

    def at_zero(self, posterior, rows: dict):
        """The mean with the block at zero and the SD, per draw and row, and the observed
        outcome (its log for a lognormal likelihood)."""
        rest = self._rest_draws(posterior)
        n = posterior.sizes["chain"] * posterior.sizes["draw"]
        zeros = [np.zeros((n, *shape)) for shape in self.block.shapes]
        observed = np.asarray(rows[self.rung.observed_data_name], dtype=float)
        mean, sd = _chunked(self.mean_sd, [*rest, *zeros], rows, n, draws_per_block(observed.size))
        return mean, sd, np.log(observed) if self.log_scale else observed

    def jacobian_total(self, observed: np.ndarray) -> float:
        """The log-likelihood's term outside the normal on log y (a lognormal's -sum log y)."""
        return -float(observed.sum()) if self.log_scale else 0.0


class DesignReader:
    """The mean's design in the block, read by perturbing it: a coordinate at a time,
    or for a vector whose levels each own their rows (a group term) the whole vector by
    ones and by its ranks, the row's level being their ratio (checked on a random
    vector before it is trusted)."""

    def __init__(self, graph: MeanGraph):
        self.graph = graph
        self.block = graph.block

    def design(self, rows: dict):
        """(rows x coordinates) sparse B: the mean's change per unit of each coordinate."""
        rest = self._rest_draws_from_model()
        columns = [
            self._columns(rest, rows, position, shape)
            for position, shape in enumerate(self.block.shapes)
        ]
        return sparse.hstack(columns).tocsr()

    def _rest_draws_from_model(self) -> list[np.ndarray]:
        """One point of the rest (the model's initial point): the design does not depend
        on it, the mean being linear in the block."""
        point = self.graph.point
        return [np.asarray(point[v.name])[None, ...] for v in self.graph._rest]

    def _perturbed(self, rest, rows, position, blocks: list[np.ndarray]) -> np.ndarray:
        """The mean's change when block variable `position` takes each of `blocks`."""
        count = len(blocks) + 1
        repeated = [np.repeat(values, count, axis=0) for values in rest]
        shapes = self.block.shapes
        inputs = [np.zeros((count, *shape)) for shape in shapes]
        inputs[position] = np.stack([np.zeros(shapes[position]), *blocks])
        mean, _ = self.graph.mean_sd([*repeated, *inputs], rows)
        return mean[1:] - mean[0]

    def _columns(self, rest, rows, position, shape):
        size = int(np.prod(shape))
        if len(shape) == 1 and size > 1:
            ones, ranks = np.ones(size), np.arange(1.0, size + 1)
            probe = np.random.default_rng(0).normal(size=size)
            total, ranked, check = self._perturbed(rest, rows, position, [ones, ranks, probe])
            touched = np.abs(total) > 0
            ratio = ranked[touched] / total[touched]
            level = np.rint(ratio).astype(int) - 1
            if np.allclose(ratio, level + 1) and np.all((level >= 0) & (level < size)):
                matrix = sparse.csr_matrix(
                    (total[touched], (np.flatnonzero(touched), level)), shape=(total.size, size)
                )
                if np.allclose(matrix @ probe, check, rtol=1e-9, atol=1e-12):
                    return matrix
        units = list(np.eye(size).reshape(size, *shape)) if size else []
        changes = [
            self._perturbed(rest, rows, position, units[start : start + 64])
            for start in range(0, size, 64)
        ]
        return sparse.csr_matrix(np.concatenate(changes).T)


def slope_scale(graph: MeanGraph, effect: str):
    """The SD that scales the effect's group slopes over the fewest levels (the sites'
    where participants have slopes too: the participants' SD is well pinned by their
    number), with its log prior density, or None (no such slopes, or an SD whose prior
    depends on other parameters)."""
    import pytensor

    slopes = [n for n in graph.block.names if parse(n).effect == effect and parse(n).group]
    if not slopes:
        return None
    slopes = [min(slopes, key=lambda n: graph.block.groups[n].size)]  # the sites', not a person's
    name = f"{slopes[0]}_sigma"
    free = {rv.name: rv for rv in graph.model.free_RVs}
    if name not in free or free[name].type.ndim != 0:
        return None
    value = graph.model.rvs_to_values[free[name]]
    (log_prior,) = graph.model.logp(vars=[free[name]], sum=False)
    try:
        function = pytensor.function([value], log_prior, mode=QUICK_MODE)
    except Exception:  # its prior has parameters of its own: no fixed density
        return None
    return SlopeScale(slopes[0], name, lambda sd: float(function(np.asarray(sd, float))))


def _chunked(
    function, draws: list[np.ndarray], rows: dict, total: int, chunk: int
) -> list[np.ndarray]:
    parts = [
        function(
            [values[start : start + chunk] for values in draws],
            rows,
            size=min(chunk, total - start),
        )
        for start in range(0, total, chunk)
    ]
    return [np.concatenate([part[i] for part in parts]) for i in range(len(parts[0]))]
