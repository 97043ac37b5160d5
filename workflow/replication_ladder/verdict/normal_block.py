"""The block of a normal likelihood's coefficients with normal priors, integrated out
exactly given the rest of the model (effect_density's `collapsed` way).

With mean = m0 + B b (b the block: common effects and group effects with normal priors,
B read off the model's graph), residual SD s c_i (s per draw, c_i fixed per row) and
b ~ N(m, P^-1) given the rest, b's conditional is normal with precision B'WB / s^2 + P
and linear term B'W (y - m0) / s^2 + P m, W = diag(1 / c_i^2). The effect's marginal in it
is what the Savage-Dickey density needs. The effects of the largest grouping whose
levels each own their rows (a participant's intercept, and slope where the treatment
varies within participants) are eliminated level by level by their Schur complement, so
that the dense solve is only as large as the common effects and the site slopes. Draws
go through in chunks: no (draws x rows) array is held whole.
"""

from functools import cached_property

import numpy as np
from scipy import sparse, stats
from scipy.special import logsumexp

from replication_ladder.models.densities import Densities, draws_per_block
from replication_ladder.verdict.mean_graph import DesignReader, MeanGraph, slope_scale
from replication_ladder.verdict.normal_likelihood import log_normal_integral, log_posterior_at

LINEAR_TOLERANCE = 1e-6  # nats: the log-likelihood agreement that proves the block exact
HYPER_POINTS = 48  # grid points of the slopes' SD


class NormalBlock:
    """The coefficients of a normal likelihood's mean that have normal priors, as one block.

    `of` finds them in the model (free variables drawn from a normal, and the group
    effects of non-centred offsets, each effect = offset x its SD); the mean's design in
    them (`design`) is read from the model's own graph by unit perturbations, and checked
    to reproduce its log-likelihood at the draws before it is trusted.
    """

    def __init__(self, rung, effect: str, densities: Densities, graph: "MeanGraph"):
        self.rung = rung
        self.effect = effect
        self.densities = densities
        self.graph = graph
        self.checked = False

    @classmethod
    def of(cls, rung, effect: str, densities: Densities):
        graph = MeanGraph.of(rung, effect)
        return None if graph is None else cls(rung, effect, densities, graph)

    # -- the design: the mean's coefficients on the block --------------------------------

    @cached_property
    def design(self):
        """(rows x coordinates) sparse matrix B with mean = mean(block = 0) + B block."""
        return DesignReader(self.graph).design(self.rung.rows())

    @cached_property
    def effect_index(self) -> int:
        return int(self.graph.block.groups[self.effect][0])

    @cached_property
    def slopes(self):
        """The SD of the effect's site slopes, integrated by quadrature (slope_scale)."""
        return slope_scale(self.graph, self.effect)

    @cached_property
    def weight(self) -> np.ndarray:
        """The rows' relative precisions (1 / c_i^2), fixed across draws."""
        point = self.graph.point
        rest = [np.asarray(point[v.name])[None, ...] for v in self.graph._rest]
        zeros = [np.zeros((1, *shape)) for shape in self.graph.block.shapes]
        _, sd = self.graph.mean_sd([*rest, *zeros], self.rung.rows())
        return row_scale(np.atleast_2d(sd))[1]

    def elimination(self, slopes) -> "Elimination":
        keep = self._not_eliminated(slopes)
        weighted = self.design.multiply(self.weight[:, None]).tocsr()
        information = (self.design.T @ weighted).tocsr()  # B'WB
        levels = level_blocks(information, self.graph.block.groups, keep)
        return Elimination(information, weighted, levels, self.effect_index)

    def log_density_at(self, posterior, rows: dict, prior, value: float, log_lik_totals=None):
        """Per draw, log p(effect = value | y, rest) with every other coordinate of the
        block integrated out under its prior, and, where one SD scales the effect's group
        slopes over the fewest levels (site slopes), that SD too, by quadrature
        (hyper_grid): far from zero the draws' own values of it would leave a few of them
        carrying the mean. The block gives the effect's likelihood (a normal); its prior,
        whatever its family, is applied to that (normal_likelihood.log_posterior_at)."""
        slopes = self.slopes
        structure = self.elimination(slopes)
        grid = hyper_grid(posterior[slopes.sd].values.ravel()) if slopes else None
        flat = posterior.stack(sample=("chain", "draw")).drop_vars(["sample", "chain", "draw"])
        if log_lik_totals is not None:
            log_lik_totals = np.asarray(log_lik_totals.sel(draw=posterior["draw"])).ravel()
        terms = []
        size = draws_per_block(len(rows[self.rung.observed_data_name]))
        for start in range(0, flat.sizes["sample"], size):
            part = slice(start, start + size)
            chunk = flat.isel(sample=part).rename(sample="draw").expand_dims(chain=1)
            chunk = chunk.transpose("chain", "draw", ...)
            totals = None if log_lik_totals is None else log_lik_totals[part]
            system = self._system(chunk, rows, structure, totals)
            if slopes is None:
                mean, variance, _ = system.solve()
                terms.append(log_posterior_at(prior, value, mean, np.sqrt(variance)))
            else:
                terms.append(self._over_slope_sd(system, slopes, structure, grid, prior, value))
        return np.concatenate(terms)

    def _system(self, chunk, rows: dict, structure, log_lik_totals) -> "SchurSystem":
        """The block's conditional for a chunk of draws (checked on the first)."""
        base, sd, observed = self.graph.at_zero(chunk, rows)
        scale, _ = row_scale(sd)
        if log_lik_totals is not None and not self.checked:
            self._check(chunk, base, sd, observed, log_lik_totals)
        score = (structure.weighted.T @ (observed[None, :] - base).T).T  # per draw B'W r
        prior_mean, prior_precision = self.graph.block_prior(chunk)
        prior_precision[:, self.effect_index] = 0.0  # the effect's likelihood alone
        return SchurSystem(structure, score, scale, prior_mean, prior_precision)

    def _not_eliminated(self, slopes) -> set[int]:
        keep = {self.effect_index}
        if slopes is not None:
            keep |= set(self.graph.block.groups[slopes.block].tolist())
        return keep

    def _over_slope_sd(self, system, slopes, structure, grid, prior, value):
        """The density at `value` averaged over the slopes' SD on a grid, weighted by its
        conditional given the rest: the block's marginal likelihood (the effect's under its
        prior) times the SD's prior."""
        coordinates = np.searchsorted(structure.kept, self.graph.block.groups[slopes.block])
        terms, weights = [], []
        base_precision = system.precision_of(coordinates)
        for sd, step in zip(*grid, strict=True):
            extra = np.zeros((system.draws, len(structure.kept)))
            extra[:, coordinates] = 1 / sd**2 - base_precision
            mean, variance, log_evidence = system.solve(extra)
            log_evidence += coordinates.size * np.log(1 / sd**2) / 2  # the slopes' prior
            log_evidence += log_normal_integral(prior, mean, np.sqrt(variance))
            weights.append(log_evidence + slopes.log_prior(sd) + step)
            terms.append(log_posterior_at(prior, value, mean, np.sqrt(variance)))
        weights = np.stack(weights)
        weights -= logsumexp(weights, axis=0)
        return logsumexp(weights + np.stack(terms), axis=0)

    def _check(self, posterior, base, sd, observed, totals: np.ndarray) -> None:
        """The collapse is exact only if the model's log-likelihood is this normal one,
        linear in the block: compare at the draws (`totals`, the model's, in their order)."""
        block = self._block_values(posterior)
        mean = base + (self.design @ block.T).T
        normal = stats.norm.logpdf(observed[None, :], mean, sd).sum(axis=1)
        normal += self.graph.jacobian_total(observed)
        expected = totals
        gap = float(np.max(np.abs(normal - expected)))
        if not gap < LINEAR_TOLERANCE * max(1.0, float(np.abs(expected).max()) * 1e-6):
            raise ValueError(
                f"{self.rung.where}: the normal block does not reproduce the model's "
                f"log-likelihood (largest gap {gap:.3g} nats)"
            )
        self.checked = True

    def _block_values(self, posterior) -> np.ndarray:
        """(draws x coordinates) the block at the draws (an offset's effect = offset x SD)."""
        n = posterior.sizes["chain"] * posterior.sizes["draw"]
        _, precision = self.graph.block_prior(posterior)
        parts = []
        for name in self.graph.block.names:
            source = self.graph.block.offsets.get(name, name)
            values = posterior[source].values.reshape(n, -1)
            if name in self.graph.block.offsets:
                values = values / np.sqrt(precision[:, self.graph.block.groups[name]])
            parts.append(values)
        return np.concatenate(parts, axis=1)


def row_scale(sd: np.ndarray):
    """A draw's residual SDs as one scale per draw times fixed per-row factors (the rows'
    weights), as a normal likelihood with known relative precisions has them."""
    if sd.ndim == 1 or sd.shape[1] == 1:
        return np.asarray(sd).reshape(-1), np.ones(1 if sd.ndim == 1 else sd.shape[1])
    factor = sd[0] / sd[0].mean()
    scale = sd.mean(axis=1)
    if not np.allclose(sd, scale[:, None] * factor[None, :], rtol=1e-9):
        raise ValueError("the residual SDs are not one scale times fixed row factors")
    return scale, 1 / factor**2


class Elimination:
    """What every chunk of draws shares: B'WB split into the kept coordinates and the
    eliminated ones, these as (levels x m) positions (m variables sharing one grouping's
    levels), their couplings C_i to the kept ones and the products of their rows."""

    def __init__(self, information, weighted, levels: np.ndarray, effect: int):
        n = information.shape[0]
        self.weighted = weighted
        self.levels = levels
        self.kept = np.setdiff1d(np.arange(n), levels.ravel())
        self.at = int(np.searchsorted(self.kept, effect))
        self.dense = information[self.kept][:, self.kept].toarray()
        m = levels.shape[1]
        self.blocks = np.stack(
            [
                np.stack([_entries(information, levels[:, i], levels[:, j]) for j in range(m)], -1)
                for i in range(m)
            ],
            -2,
        )  # (levels, m, m)
        self.coupling = [information[levels[:, i]][:, self.kept].tocsr() for i in range(m)]
        self.pairs = {
            (i, j): outer_pairs(self.coupling[i], self.coupling[j])
            for i in range(m)
            for j in range(m)
        }


class SchurSystem:
    """The block's normal conditional for a chunk of draws: precision B'WB / s^2 + P,
    linear term B'W r / s^2 + P m, the eliminated levels' blocks D_k taken out by their
    Schur complement; `solve` then works on the kept coordinates (common effects, site
    slopes) with any extra prior precision on them (a grid of the slopes' SD)."""

    def __init__(self, structure: Elimination, score, scale, prior_mean, prior_precision):
        kept, levels = structure.kept, structure.levels
        inv_s2 = 1 / scale**2
        linear = score * inv_s2[:, None] + prior_precision * prior_mean
        self.draws, self.at = len(scale), structure.at
        self.prior_precision = prior_precision[:, kept]
        self.base = structure.dense[None, :, :] * inv_s2[:, None, None]
        idx = np.arange(kept.size)
        self.base[:, idx, idx] += self.prior_precision
        self.rhs = linear[:, kept]
        self.log_det_eliminated = np.zeros(self.draws)
        self.quadratic_eliminated = np.zeros(self.draws)
        if levels.size:
            m = levels.shape[1]
            blocks = structure.blocks[None] * inv_s2[:, None, None, None]
            diagonal = np.arange(m)
            blocks[..., diagonal, diagonal] += prior_precision[:, levels]
            inverse = np.linalg.inv(blocks)  # (draws, levels, m, m)
            for (i, j), pairs in structure.pairs.items():
                weights = inverse[..., i, j] * inv_s2[:, None] ** 2
                self.base -= (pairs.T @ weights.T).T.reshape(-1, kept.size, kept.size)
            eliminated = linear[:, levels]  # (draws, levels, m)
            solved = np.einsum("dlij,dlj->dli", inverse, eliminated)
            for i, coupling in enumerate(structure.coupling):
                self.rhs -= inv_s2[:, None] * (coupling.T @ solved[..., i].T).T
            self.log_det_eliminated = np.linalg.slogdet(blocks)[1].sum(1)
            self.quadratic_eliminated = (eliminated * solved).sum((1, 2))

    def precision_of(self, coordinates) -> np.ndarray:
        """The prior precision the kept `coordinates` have in the base system."""
        return self.prior_precision[:, coordinates]

    def solve(self, extra: np.ndarray | None = None):
        """The effect's conditional mean and variance per draw, and the log marginal
        likelihood of the block up to terms that `extra` does not change."""
        precision = self.base if extra is None else self.base + _diagonal(extra)
        unit = np.zeros((self.draws, precision.shape[1]))
        unit[:, self.at] = 1.0
        both = np.linalg.solve(precision, np.stack([self.rhs, unit], axis=-1))
        solved, variance = both[..., 0], both[:, self.at, 1]
        _, log_det = np.linalg.slogdet(precision)
        quadratic = (self.rhs * solved).sum(1) + self.quadratic_eliminated
        log_evidence = -0.5 * (log_det + self.log_det_eliminated - quadratic)
        return solved[:, self.at], variance, log_evidence


def _diagonal(values: np.ndarray) -> np.ndarray:
    out = np.zeros((*values.shape, values.shape[-1]))
    idx = np.arange(values.shape[-1])
    out[:, idx, idx] = values
    return out


def hyper_grid(draws: np.ndarray, points: int = HYPER_POINTS):
    """An SD's grid for the midpoint rule, dense near zero (u^2 spacing) and reaching
    three times its largest draw; the log of each point's width."""
    upper = 3 * float(np.max(draws))
    u = (np.arange(points) + 0.5) / points
    return upper * u**2, np.log(2 * upper * u / points)


def outer_pairs(first, second) -> "sparse.csr_matrix":
    """(rows x kept^2): per row k, the flattened outer product of row k of `first` with
    row k of `second` (sparse, like them)."""
    first, second = first.tocsr(), second.tocsr()
    k = first.shape[1]
    rows, columns, values = [], [], []
    for row in range(first.shape[0]):
        a_index = first.indices[first.indptr[row] : first.indptr[row + 1]]
        a_data = first.data[first.indptr[row] : first.indptr[row + 1]]
        b_index = second.indices[second.indptr[row] : second.indptr[row + 1]]
        b_data = second.data[second.indptr[row] : second.indptr[row + 1]]
        rows.append(np.full(a_index.size * b_index.size, row))
        columns.append((a_index[:, None] * k + b_index[None, :]).ravel())
        values.append(np.outer(a_data, b_data).ravel())
    if not rows:
        return sparse.csr_matrix((first.shape[0], k * k))
    return sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))),
        shape=(first.shape[0], k * k),
    )


def level_blocks(information, groups: dict, keep: set[int]) -> np.ndarray:
    """(levels x m) positions of the coordinates to eliminate: the variables of one
    grouping (as many coordinates each, none in `keep`) whose coordinates inform only
    their own level's, across all of them (B'WB block-diagonal by level), the set with
    the most coordinates; (0 x 1) when there is none."""
    best = np.empty((0, 1), dtype=int)
    candidates = [
        index for index in groups.values() if index.size >= 2 and not keep & set(index.tolist())
    ]
    for size in sorted({index.size for index in candidates}, reverse=True):
        chosen = []
        for index in (i for i in candidates if i.size == size):
            if all(_level_diagonal(information, index, other) for other in [index, *chosen]):
                chosen.append(index)
        if chosen and size * len(chosen) > best.size:
            best = np.stack(chosen, axis=1)
    return best


def _level_diagonal(information, rows: np.ndarray, columns: np.ndarray) -> bool:
    """Whether coordinate k of `rows` meets no coordinate of `columns` but their k-th."""
    sub = information[rows][:, columns].tocoo()
    return bool(np.all(sub.row == sub.col) or not sub.nnz)


def _entries(matrix, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """matrix[rows[k], columns[k]] for each k, as a dense vector."""
    return np.asarray(matrix[rows, columns]).ravel()
