"""A fit's pointwise log-likelihood, a block of rows at a time, written to its
posterior.nc as it is computed.

What a fit needs of it (each row's PSIS-LOO; the per-draw total that power-scaling and
the verdict's conditional density read) is gathered block by block, so that a fit's
memory does not grow with rows x draws: the RRR copied 16 times held 3.5 GB of it at
4,000 draws. The file keeps every value as float32 for ArviZ's `loo` and the LOO
remedies (a log density of -10 to 7 significant digits; PSIS-LOO in the fit is done on
the float64 values), and the per-draw total as the `log_likelihood_total` group, which
the report reads instead of the rows.

ArviZ's `loo` and PyMC's `compute_log_likelihood` take or make the whole (draws x rows)
array at once, so neither serves here; arviz_stats' `loo_subsample` approximates.
"""

import time
from dataclasses import dataclass

import numpy as np
import xarray as xr

from replication_ladder.base.errors import DataError
from replication_ladder.scoring import psis

BLOCK_BYTES = 64 * 2**20  # one block's float64 values over all draws
TOTAL_GROUP = "log_likelihood_total"


@dataclass(frozen=True)
class Pointwise:
    """What a fit keeps of its pointwise log-likelihood."""

    elpd_i: np.ndarray
    p_loo_i: np.ndarray
    pareto_k: np.ndarray
    totals: xr.DataArray  # (chain, draw): the log-likelihood summed over the rows
    unscorable: str | None  # why PSIS could not be done, if it could not
    seconds: float  # PSIS-LOO's share of the pass
    r_eff: float  # the relative efficiency PSIS took


def row_blocks(n_rows: int, n_samples: int) -> list[np.ndarray]:
    """Consecutive row indices, BLOCK_BYTES of float64 values over `n_samples` draws each."""
    size = max(1, BLOCK_BYTES // (8 * max(n_samples, 1)))
    return [np.arange(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]


def _variable(group, rung, posterior, n_rows: int):
    """The log_likelihood group's variable in an open h5netcdf file, as xarray lays a
    Dataset out (dimension coordinates for chain and draw; the row dim without one)."""
    dims = rung.model.named_vars_to_dims.get(rung.observed.name) or ("__obs__",)
    (row_dim,) = dims
    group.dimensions = {
        "chain": posterior.sizes["chain"],
        "draw": posterior.sizes["draw"],
        row_dim: n_rows,
    }
    for name in ("chain", "draw"):
        group.create_variable(name, (name,), data=posterior[name].values)
    return group.create_variable(
        rung.observed.name,
        ("chain", "draw", row_dim),
        dtype="float32",
        chunks=(posterior.sizes["chain"], posterior.sizes["draw"], min(n_rows, 1024)),
    )


def write_pointwise(rung, densities, posterior, r_eff: float, path) -> Pointwise:
    """Compute the log-likelihood of every row of the rung under `posterior` (as sampled,
    before `rung.finish`), block by block: write it to the new netCDF file `path` as its
    `log_likelihood` group, and return each row's PSIS-LOO and the per-draw totals."""
    import h5netcdf

    n_rows = rung.n_rows
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    n_samples = chains * draws
    elpd_i, p_loo_i, pareto_k = (np.full(n_rows, np.nan) for _ in range(3))
    totals = np.zeros((chains, draws))
    unscorable, psis_seconds = None, 0.0
    with h5netcdf.File(path, "w") as file:
        variable = _variable(file.create_group("log_likelihood"), rung, posterior, n_rows)
        for index in row_blocks(n_rows, n_samples):
            values = densities.log_likelihood(posterior, rows=rung.rows(index))
            totals += values.sum(axis=-1)
            variable[:, :, index[0] : index[-1] + 1] = values.astype("float32")
            if unscorable is None:
                started = time.perf_counter()
                try:
                    scored = psis.psis_loo(values.reshape(n_samples, -1), r_eff, int(index[0]))
                except DataError as error:
                    unscorable = str(error)
                else:
                    elpd_i[index], p_loo_i[index], pareto_k[index] = scored
                psis_seconds += time.perf_counter() - started
    if unscorable is not None:
        elpd_i = p_loo_i = pareto_k = np.empty(0)
    coords = {"chain": posterior["chain"], "draw": posterior["draw"]}
    return Pointwise(
        elpd_i,
        p_loo_i,
        pareto_k,
        xr.DataArray(totals, dims=("chain", "draw"), coords=coords),
        unscorable,
        psis_seconds,
        r_eff,
    )
