"""Refit a rung on part of its rows and score the rows left out, compiling it once.

Exact LOO for observations PSIS cannot handle (reloo), k-fold cross-validation and
leave-one-site-out all come down to this: the rung's model, compiled once, sampled with
the training rows swapped in (a seed derived from what was left out), then its
log-likelihood evaluated on the held-out rows. The held-out rows keep their group
levels, which the training rows no longer inform: their effects are drawn from the
population, as for a new site.
"""

import logging

import numpy as np
import pandas as pd
from arviz_stats import SamplingWrapper

from replication_ladder.base.progress import Progress
from replication_ladder.base.seeds import derive_seed
from replication_ladder.models.densities import Densities
from replication_ladder.models.samplers import compile_rung

log = logging.getLogger(__name__)


class Refitter:
    """One rung, compiled once, refitted without chosen rows; `refits`, when known, is
    how many refits the job makes (for its progress lines)."""

    def __init__(self, rung, cores: int, sampling: dict | None = None, refits: int | None = None):
        self.rung = rung
        self.cores = cores
        self.progress = Progress(f"{rung.spec['dataset']}/{rung.spec['model']}")
        self.progress.phase("compiling for refits")
        self.compiled = compile_rung(rung, sampling or rung.spec["sampling"])
        self.densities = Densities(rung)
        self.refits, self.done = refits, 0
        self.progress.phase("refitting")

    def fit_without(self, held_out: np.ndarray, *names: str):
        """Draws (the model's own parameterisation) from the rows not in `held_out`."""
        train = np.setdiff1d(np.arange(self.rung.n_rows), held_out)
        seed = derive_seed(self.rung.spec["seed"], *names)
        draws = self.compiled.sample(seed, self.cores, data=self.rung.rows(train))
        self.done += 1
        if self.refits is None:
            self.progress.update(f"{self.done} refits done")
        else:
            self.progress.steps(self.done, self.refits, "refits")
        return draws

    def score(self, draws, held_out: np.ndarray) -> np.ndarray:
        """log p(y_i | theta_s) of the held-out rows: (chain, draw, rows)."""
        posterior = draws["posterior"].to_dataset()
        return self.densities.log_likelihood(posterior, rows=self.rung.rows(held_out))


class RefitWrapper(SamplingWrapper):
    """ArviZ's refitting interface for one rung, so `reloo` and `loo_kfold` can refit it."""

    def __init__(self, rung, idata, cores: int, refits: int | None = None):
        super().__init__(model=None, idata_orig=idata)
        self.refitter = Refitter(rung, cores, refits=refits)
        self._held_out: np.ndarray | None = None

    def sel_observations(self, idx):
        held_out = np.zeros(self.refitter.rung.n_rows, dtype=bool)
        held_out[np.atleast_1d(np.asarray(idx))] = True
        self._held_out = np.flatnonzero(held_out)
        data = self.refitter.rung.data
        return data[~held_out].reset_index(drop=True), data[held_out].reset_index(drop=True)

    def sample(self, modified_observed_data):
        rows = ",".join(map(str, self._held_out))
        spec = self.refitter.rung.spec
        log.info(
            "%s/%s: refitting without rows %s",
            spec["dataset"],
            spec["model"],
            rows if len(rows) < 80 else f"{rows[:80]}...",
        )
        return self.refitter.fit_without(self._held_out, "refit", rows)

    def get_inference_data(self, fitted_model):
        return fitted_model

    def log_likelihood__i(self, excluded_obs, idata__i):
        import xarray as xr

        values = self.refitter.score(idata__i, self._held_out)
        # The held-out rows along the same dimension as the original log-likelihood.
        return xr.DataArray(values, dims=("chain", "draw", "row"))


def rows_of(data: pd.DataFrame, column: str, level: str) -> np.ndarray:
    """Positions of the rows whose `column` is `level`."""
    return np.flatnonzero((data[column].astype(str) == level).to_numpy())
