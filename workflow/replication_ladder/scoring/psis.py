"""Pareto-smoothed importance sampling weights for leave-one-out, vectorised over the
observations, and the pointwise elpd_loo they give; ArviZ's `loo` takes the weights
(`log_weights`, `pareto_k`) where a remedy needs its whole result.

The same estimator as ArviZ's `psislw` (Vehtari et al. 2017, 2024): per observation, the
largest importance ratios are replaced by the quantiles of a generalized Pareto
distribution fitted to them (Zhang and Stephens' empirical Bayes estimate with the weakly
informative prior on k), and the fitted shape k is the diagnostic. ArviZ does this one
observation at a time in Python; here blocks of observations go through NumPy at once,
and only the tail is sorted (a partition finds it). At the edges it does what ArviZ
does: a tail with no spread is an error naming the observation; a tail that is no
generalized Pareto (k is NaN) or a fit that fails (k infinite) keeps its raw ratios.
tests/test_loo.py holds the two to 1e-12, the edges included.
"""

import math

import numpy as np

from replication_ladder.base.errors import DataError

PRIOR_BS = 3  # the prior of the GPD fit, as in ArviZ and loo
PRIOR_K = 10
BLOCK = 256  # observations at a time: bounds the (m x tail x block) work array


def logsumexp(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """log(sum(exp(x))) along an axis, stabilised by the maximum: SciPy's does the same
    with checks and masks that cost 4x more on these arrays."""
    top = x.max(axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.exp(x - top).sum(axis=axis)) + np.squeeze(top, axis=axis)


def tail_length(n_draws: int, r_eff: float) -> int:
    if n_draws * r_eff > 225:
        return math.floor(3 * (n_draws / r_eff) ** 0.5)
    return math.floor(n_draws / 5)


def gpd_fit(tail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shape k and scale sigma of a generalized Pareto distribution for each column of
    `tail` (sorted ascending, exceedances over the cutoff): NaN where the tail is no
    generalized Pareto, an infinite k where the fit breaks down (as ArviZ)."""
    n = tail.shape[0]
    m = 30 + int(n**0.5)
    xstar = tail[int(n / 4 + 0.5) - 1]  # first quartile
    fits = ~(xstar <= tail[0])  # else far from a generalized Pareto: no fit (NaN fits, as ArviZ)
    grid = 1 - np.sqrt(m / (np.arange(1, m + 1, dtype=float) - 0.5))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        b = grid[:, None] / (PRIOR_BS * xstar[None, :]) + 1 / tail[-1][None, :]
        k = np.log1p(-b[:, None, :] * tail[None, :, :]).mean(axis=1)
        length_scale = n * (np.log(-b / k) - k - 1)
        weights = np.exp(length_scale - logsumexp(length_scale, axis=0))
        weights[weights < 10 * np.finfo(float).eps] = 0.0  # negligible, as ArviZ drops them
        weights /= weights.sum(axis=0)
        b_post = (b * weights).sum(axis=0)
        k_post = np.log1p(-b_post[None, :] * tail).mean(axis=0)
        sigma = -k_post / b_post
    k_post = (n * k_post + PRIOR_K * 0.5) / (n + PRIOR_K)
    k_post = np.where(np.isnan(k_post), np.inf, k_post)
    return np.where(fits, k_post, np.nan), np.where(fits, sigma, np.nan)


def _gpd_quantiles(
    probs: np.ndarray, k: np.ndarray, sigma: np.ndarray, cutoff: np.ndarray
) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        general = cutoff + sigma * np.expm1(-k * np.log1p(-probs[:, None])) / k
        exponential = cutoff - sigma * np.log1p(-probs[:, None])
    quantiles = np.where(k == 0, exponential, general)
    return np.where(sigma > 0, quantiles, np.nan)


def _smoothed_blocks(log_lik: np.ndarray, r_eff: float, offset: int = 0):
    """Per block of observations of a (draws x observations) log-likelihood: the columns,
    the block's log-likelihood and the smoothed, normalised log weights of leaving each
    observation out, both (observations x draws), and each observation's Pareto k.

    A block is copied to (observations x draws) first: reductions and the partition then
    run along contiguous memory, which halves the time of the whole (measured on the
    RRR's 8,000 x 6,907)."""
    n_draws, n_obs = log_lik.shape
    n_tail = tail_length(n_draws, r_eff)
    if n_tail < 5:
        raise DataError(
            f"PSIS needs at least 5 draws in the tail; {n_draws} draws give {n_tail}: "
            "sample more draws"
        )
    probs = np.arange(0.5, n_tail) / n_tail
    for start in range(0, n_obs, BLOCK):
        columns = slice(start, start + BLOCK)
        ll = np.ascontiguousarray(log_lik[:, columns].T, dtype=float)
        # Log importance ratios of leaving each observation out, shifted to a max of 0.
        ratios = -ll
        ratios -= ratios.max(axis=1, keepdims=True)
        order = np.argpartition(ratios, n_draws - n_tail - 1, axis=1)
        tail_draws = order[:, n_draws - n_tail :]
        tail_values = np.take_along_axis(ratios, tail_draws, axis=1)
        sort = np.argsort(tail_values, axis=1, kind="stable")
        tail_draws = np.take_along_axis(tail_draws, sort, axis=1)
        tail = np.take_along_axis(tail_values, sort, axis=1).T  # (tail x observations)
        cutoff = np.take_along_axis(ratios, order[:, n_draws - n_tail - 1 : n_draws - n_tail], 1)
        cutoff = cutoff[:, 0]
        flat = np.abs(tail[-1] - tail[0]) < np.finfo(float).tiny
        if flat.any():
            observation = offset + start + int(np.flatnonzero(flat)[0])
            raise DataError(
                f"observation {observation}: the log-likelihood has the same value in every "
                "draw of its PSIS tail; its Pareto k cannot be estimated"
            )
        k, sigma = gpd_fit(np.exp(tail) - np.exp(cutoff))
        with np.errstate(divide="ignore", invalid="ignore"):
            smoothed = np.log(_gpd_quantiles(probs, k, sigma, np.exp(cutoff)))
        smoothed = np.minimum(smoothed, tail[-1])
        smoothed = np.where(np.isfinite(k), smoothed, tail)  # no fit: kept as they are
        np.put_along_axis(ratios, tail_draws, smoothed.T, axis=1)
        ratios -= logsumexp(ratios, axis=1)[:, None]
        yield columns, ll, ratios, k


def psis_log_weights(log_lik: np.ndarray, r_eff: float) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed, normalised log weights (draws x observations) of leaving each
    observation out, and each observation's Pareto k, from a (draws x observations)
    log-likelihood."""
    log_weights = np.empty_like(log_lik, dtype=float)
    pareto_k = np.empty(log_lik.shape[1])
    for columns, _, weights, k in _smoothed_blocks(log_lik, r_eff):
        log_weights[:, columns] = weights.T
        pareto_k[columns] = k
    return log_weights, pareto_k


def psis_loo(
    log_lik: np.ndarray, r_eff: float, offset: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each observation's elpd_loo, p_loo and Pareto k from a (draws x observations)
    log-likelihood, as ArviZ's `loo` computes them from the same weights, without holding
    the weights of all observations at once (`offset`: the first observation's number,
    for errors, when these are a block of a fit's rows). ArviZ's `loo` computes them one observation
    at a time in Python (two SciPy logsumexp calls each): 5 s of the RRR's 6,907 rows."""
    n_draws, n_obs = log_lik.shape
    elpd_i, p_loo_i, pareto_k = np.empty(n_obs), np.empty(n_obs), np.empty(n_obs)
    for columns, ll, weights, k in _smoothed_blocks(log_lik, r_eff, offset):
        elpd_i[columns] = logsumexp(weights + ll, axis=1)
        p_loo_i[columns] = logsumexp(ll, axis=1) - math.log(n_draws) - elpd_i[columns]
        pareto_k[columns] = k
    return elpd_i, p_loo_i, pareto_k


def good_k(n_draws: int) -> float:
    """The k above which PSIS is unreliable for this many draws (ArviZ's good_k)."""
    return min(1 - 1 / math.log10(n_draws), 0.7) if n_draws > 1 else 0.7


def high_k(pareto_k: np.ndarray, threshold: float) -> np.ndarray:
    """Observations whose PSIS estimate is unreliable: k above the threshold, or no k at
    all (NaN: the tail is no generalized Pareto, so nothing vouches for the estimate)."""
    k = np.asarray(pareto_k, dtype=float)
    return ~(k <= threshold)
