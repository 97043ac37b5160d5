"""A prior against a normal likelihood for the same quantity: its marginal likelihood, the
posterior's density at a value, and draws of that posterior. The effect's likelihood is
normal wherever the ladder needs these (a meta-analysis given tau, a normal block's
effect given the rest), while its prior may be any fixed one: a normal in closed form,
any other by Simpson's rule over the likelihood's reach cut to the prior's support (a
truncation's edge is a grid's end, never inside it). SciPy's quad per value would be
exact too, and a thousand times slower over the draws and a grid of tau."""

import numpy as np
from scipy import integrate, stats

from replication_ladder.models.prior_spec import Prior

SIMPSON_POINTS = 201  # odd: Simpson's rule over a normal likelihood's reach (error < 1e-7)


def log_normal_integral(prior: Prior, mean, sd) -> np.ndarray:
    """log of the integral of the density times N(x; mean, sd), elementwise: the
    marginal likelihood of a normal likelihood for x under this prior. A normal
    prior's in closed form; any other by Simpson's rule over the likelihood's 12 SDs
    either side, cut to the prior's support (a truncation's edge is a grid's end,
    never inside it)."""
    mean, sd = np.broadcast_arrays(np.asarray(mean, float), np.asarray(sd, float))
    if prior.dist == "Normal" and prior.bounds is None:
        mu0, s0 = float(prior.args["mu"]), float(prior.args["sigma"])
        return stats.norm.logpdf(mean, mu0, np.sqrt(sd**2 + s0**2))
    grid, values = _grid(prior, mean, sd)
    top = np.max(values, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    integral = integrate.simpson(np.exp(values - top), x=grid, axis=-1)
    with np.errstate(divide="ignore"):
        return np.log(integral) + top[..., 0]


def _grid(prior: Prior, mean: np.ndarray, sd: np.ndarray):
    """log_normal_integral's grid: the likelihood's 12 SDs either side, in the support."""
    lower, upper = prior.support
    low = np.clip(mean - 12 * sd, lower, upper)
    high = np.clip(mean + 12 * sd, lower, upper)
    grid = low[..., None] + (high - low)[..., None] * np.linspace(0, 1, SIMPSON_POINTS)
    base, offset = _untruncated(prior)
    with np.errstate(divide="ignore"):
        values = base.log_density(grid.ravel()).reshape(grid.shape) + offset
        values += stats.norm.logpdf(grid, mean[..., None], sd[..., None])
    return grid, values


def _untruncated(prior: Prior) -> tuple[Prior, float]:
    """The prior without its truncation, and the log of one over the mass it keeps:
    within the support the two densities differ by that constant (PyMC's truncated
    density costs a hundred times more a value)."""
    if prior.bounds is None:
        return prior, 0.0
    base = Prior({k: v for k, v in prior.spec.items() if k != "truncate"})
    lower, upper = prior.support
    inside = np.asarray(
        [(lower + upper) / 2 if np.isfinite(lower + upper) else min(upper, max(lower, 0.0) + 1)]
    )
    return base, float(prior.log_density(inside)[0] - base.log_density(inside)[0])


def posterior_draws(prior: Prior, mean, sd, rng: np.random.Generator) -> np.ndarray:
    """A draw of x's posterior under this prior and a normal likelihood N(mean, sd),
    per element: a normal prior's exactly, any other by inverting its CDF on the grid
    log_normal_integral integrates over."""
    mean, sd = np.broadcast_arrays(np.asarray(mean, float), np.asarray(sd, float))
    if prior.dist == "Normal" and prior.bounds is None:
        mu0, s0 = float(prior.args["mu"]), float(prior.args["sigma"])
        precision = 1 / s0**2 + 1 / sd**2
        return rng.normal((mu0 / s0**2 + mean / sd**2) / precision, 1 / np.sqrt(precision))
    grid, values = _grid(prior, mean, sd)
    density = np.exp(values - values.max(axis=-1, keepdims=True))
    steps = np.diff(grid, axis=-1) * (density[..., 1:] + density[..., :-1]) / 2
    cdf = np.concatenate([np.zeros((*mean.shape, 1)), np.cumsum(steps, axis=-1)], axis=-1)
    target = rng.uniform(size=mean.shape) * cdf[..., -1]
    index = np.clip((cdf < target[..., None]).sum(axis=-1), 1, grid.shape[-1] - 1)
    below = np.take_along_axis(cdf, index[..., None] - 1, -1)[..., 0]
    above = np.take_along_axis(cdf, index[..., None], -1)[..., 0]
    left = np.take_along_axis(grid, index[..., None] - 1, -1)[..., 0]
    right = np.take_along_axis(grid, index[..., None], -1)[..., 0]
    share = np.where(above > below, (target - below) / np.where(above > below, above - below, 1), 0)
    return left + share * (right - left)


def log_posterior_at(prior: Prior, value: float, mean, sd) -> np.ndarray:
    """log density at `value` of x's posterior under this prior and a normal
    likelihood N(mean, sd) (elementwise): prior times likelihood over their integral."""
    mean, sd = np.asarray(mean, float), np.asarray(sd, float)
    return (
        prior.log_density(np.asarray([value]))[0]
        + stats.norm.logpdf(value, mean, sd)
        - log_normal_integral(prior, mean, sd)
    )
