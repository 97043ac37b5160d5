"""The block of a normal likelihood's coefficients with normal priors, integrated out
exactly given the rest of the model (effect_density's `collapsed` way).

With mean = m0 + B b (b the block: common effects and group effects with normal priors,
B read off the model's graph), residual SD s c_i (s per draw, c_i fixed per row) and
b ~ N(m, P^-1) given the rest, b's conditional is normal with precision B'WB / s^2 + P
and linear term B'W (y - m0) / s^2 + P m, W = diag(1 / c_i^2). The effect's marginal in it
is what the Savage-Dickey density needs. A participant's intercepts, one a row, are
eliminated by their Schur complement, so that the dense solve is only as large as the
common effects and the site slopes.
"""

from functools import cached_property

import numpy as np
from scipy import sparse, stats
from scipy.special import logsumexp

from replication_ladder.densities import Densities
from replication_ladder.mean_graph import DesignReader, MeanGraph, slope_scale

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

    def log_density_at(self, posterior, rows: dict, prior, value: float, log_lik_totals=None):
        """Per draw, log p(effect = value | y, rest) with every other coordinate of the
        block integrated out under its prior, and, where one SD scales the effect's group
        slopes (site slopes), that SD too, by quadrature (hyper_grid): far from zero the
        draws' own values of it would leave a few of them carrying the mean. The block
        gives the effect's likelihood (a normal); its prior, whatever its family, is
        applied to that (Prior.log_posterior_at)."""
        base, sd, observed = self.graph.at_zero(posterior, rows)
        scale, weight = row_scale(sd)
        if log_lik_totals is not None and not self.checked:
            self._check(posterior, base, sd, observed, log_lik_totals)
        weighted = self.design.multiply(weight[:, None]).tocsr()
        information = (self.design.T @ weighted).tocsr()  # B'WB
        score = (weighted.T @ (observed[None, :] - base).T).T  # per draw B'W r
        prior_mean, prior_precision = self.graph.block_prior(posterior)
        prior_precision[:, self.effect_index] = 0.0  # the effect's likelihood alone
        slopes = slope_scale(self.graph, self.effect)
        kept = np.setdiff1d(
            np.arange(information.shape[0]),
            diagonal_group(information, self.graph.block.groups, self._not_eliminated(slopes)),
        )
        system = SchurSystem(information, score, scale, prior_mean, prior_precision, kept)
        at = int(np.searchsorted(kept, self.effect_index))
        if slopes is None:
            mean, variance, _ = system.solve(at)
            return prior.log_posterior_at(value, mean, np.sqrt(variance))
        return self._over_slope_sd(system, slopes, kept, at, posterior, prior, value)

    def _not_eliminated(self, slopes) -> set[int]:
        keep = {self.effect_index}
        if slopes is not None:
            keep |= set(self.graph.block.groups[slopes.block].tolist())
        return keep

    def _over_slope_sd(self, system, slopes, kept, at, posterior, prior, value):
        """The density at `value` averaged over the slopes' SD on a grid, weighted by its
        conditional given the rest: the block's marginal likelihood (the effect's under its
        prior) times the SD's prior."""
        coordinates = np.searchsorted(kept, self.graph.block.groups[slopes.block])
        grid, log_step = hyper_grid(posterior[slopes.sd].values.ravel())
        terms, weights = [], []
        base_precision = system.precision_of(coordinates)
        for sd, step in zip(grid, log_step, strict=True):
            extra = np.zeros((system.draws, len(kept)))
            extra[:, coordinates] = 1 / sd**2 - base_precision
            mean, variance, log_evidence = system.solve(at, extra)
            log_evidence += coordinates.size * np.log(1 / sd**2) / 2  # the slopes' prior
            log_evidence += prior.log_normal_integral(mean, np.sqrt(variance))
            weights.append(log_evidence + slopes.log_prior(sd) + step)
            terms.append(prior.log_posterior_at(value, mean, np.sqrt(variance)))
        weights = np.stack(weights)
        weights -= logsumexp(weights, axis=0)
        return logsumexp(weights + np.stack(terms), axis=0)

    def _check(self, posterior, base, sd, observed, totals) -> None:
        """The collapse is exact only if the model's log-likelihood is this normal one,
        linear in the block: compare at the draws."""
        block = self._block_values(posterior)
        mean = base + (self.design @ block.T).T
        normal = stats.norm.logpdf(observed[None, :], mean, sd).sum(axis=1)
        normal += self.graph.jacobian_total(observed)
        expected = np.asarray(totals.sel(draw=posterior["draw"])).ravel()
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


class SchurSystem:
    """The block's normal conditional for a batch of draws: precision B'WB / s^2 + P,
    linear term B'W r / s^2 + P m. The coordinates outside `kept` (a participant's
    intercepts: one a row, so conditionally independent of each other) are eliminated by
    their Schur complement once; `solve` then works on the kept ones (common effects,
    site slopes) with any extra prior precision on them (a grid of the slopes' SD)."""

    def __init__(self, information, score, scale, prior_mean, prior_precision, kept):
        n = information.shape[0]
        eliminated = np.setdiff1d(np.arange(n), kept)
        inv_s2 = 1 / scale**2
        linear = score * inv_s2[:, None] + prior_precision * prior_mean
        self.draws = len(scale)
        self.prior_precision = prior_precision[:, kept]
        dense = information[kept][:, kept].toarray()
        self.base = dense[None, :, :] * inv_s2[:, None, None]
        idx = np.arange(kept.size)
        self.base[:, idx, idx] += self.prior_precision
        self.rhs = linear[:, kept]
        self.log_det_eliminated = np.zeros(self.draws)
        self.quadratic_eliminated = np.zeros(self.draws)
        # log det of the prior precision of the block, but for the grid's own part.
        self.log_det_prior = np.log(np.where(prior_precision > 0, prior_precision, 1.0)).sum(1)
        if eliminated.size:
            coupling = information[eliminated][:, kept].tocsr()  # C
            d = information.diagonal()[eliminated][None, :] * inv_s2[:, None]
            d = d + prior_precision[:, eliminated]
            pairs = outer_pairs(coupling)
            weights = inv_s2[:, None] ** 2 / d
            self.base -= (pairs.T @ weights.T).T.reshape(-1, kept.size, kept.size)
            eliminated_linear = linear[:, eliminated]
            self.rhs = self.rhs - inv_s2[:, None] * (coupling.T @ (eliminated_linear / d).T).T
            self.log_det_eliminated = np.log(d).sum(1)
            self.quadratic_eliminated = (eliminated_linear**2 / d).sum(1)

    def precision_of(self, coordinates) -> np.ndarray:
        """The prior precision the kept `coordinates` have in the base system."""
        return self.prior_precision[:, coordinates]

    def solve(self, at: int, extra: np.ndarray | None = None):
        """The kept coordinate `at`'s conditional mean and variance per draw, and the
        log marginal likelihood of the block up to terms that `extra` does not change."""
        precision = self.base if extra is None else self.base + _diagonal(extra)
        unit = np.zeros((self.draws, precision.shape[1]))
        unit[:, at] = 1.0
        both = np.linalg.solve(precision, np.stack([self.rhs, unit], axis=-1))
        solved, variance = both[..., 0], both[:, at, 1]
        _, log_det = np.linalg.slogdet(precision)
        quadratic = (self.rhs * solved).sum(1) + self.quadratic_eliminated
        log_evidence = -0.5 * (log_det + self.log_det_eliminated - quadratic)
        return solved[:, at], variance, log_evidence


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


def outer_pairs(coupling) -> "sparse.csr_matrix":
    """(rows x kept^2): each row of C as the flattened outer product c c'."""
    coupling = coupling.tocsr()
    k = coupling.shape[1]
    rows, columns, values = [], [], []
    for row in range(coupling.shape[0]):
        start, end = coupling.indptr[row], coupling.indptr[row + 1]
        index, data = coupling.indices[start:end], coupling.data[start:end]
        rows.append(np.full(index.size**2, row))
        columns.append((index[:, None] * k + index[None, :]).ravel())
        values.append(np.outer(data, data).ravel())
    if not rows:
        return sparse.csr_matrix((coupling.shape[0], k * k))
    return sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))),
        shape=(coupling.shape[0], k * k),
    )


def diagonal_group(information, groups: dict, keep: set[int]) -> np.ndarray:
    """The coordinates of the largest variable whose coordinates do not inform each other
    (its block of B'WB is diagonal), none of them in `keep`; or none."""
    best = np.array([], dtype=int)
    for index in groups.values():
        if index.size <= best.size or keep & set(index.tolist()) or index.size < 2:
            continue
        sub = information[index][:, index]
        if sub.nnz <= index.size and np.all(sub.diagonal() > 0):
            best = index
    return best
