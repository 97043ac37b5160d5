"""Refit a rung on part of its data and score the rows left out.

Exact LOO for observations PSIS cannot handle (reloo), k-fold cross-validation and
leave-one-site-out all come down to this: fit on the training rows with the model's own
sampler settings and a seed derived from what was left out, then evaluate the
log-likelihood of the held-out rows.
"""

import logging

import numpy as np
import pandas as pd
from arviz_stats.loo.wrapper import SamplingWrapper

from replication_ladder import models
from replication_ladder.seeds import derive_seed

log = logging.getLogger(__name__)


def fit_without(spec: dict, train: pd.DataFrame, cores: int, *names: str):
    """Fit `spec` to `train`, seeded from the model's seed and `names`; (model, draws)."""
    seed = derive_seed(spec["seed"], *names)
    built = models.build(spec, train)
    return built, built.sample(spec["sampling"], seed, cores)


class RefitWrapper(SamplingWrapper):
    """ArviZ's refitting interface for one rung, so `reloo` and `loo_kfold` can refit it."""

    def __init__(self, spec: dict, data: pd.DataFrame, idata, cores: int):
        super().__init__(model=None, idata_orig=idata)
        self.spec = spec
        self.data = data
        self.cores = cores
        self._held_out: np.ndarray | None = None

    def sel_observations(self, idx):
        held_out = np.zeros(len(self.data), dtype=bool)
        held_out[np.atleast_1d(np.asarray(idx))] = True
        self._held_out = np.flatnonzero(held_out)
        train = self.data[~held_out].reset_index(drop=True)
        test = self.data[held_out].reset_index(drop=True)
        return train, test

    def sample(self, modified_observed_data):
        rows = ",".join(map(str, self._held_out))
        log.info(
            "%s/%s: refitting without rows %s",
            self.spec["dataset"],
            self.spec["model"],
            rows if len(rows) < 80 else f"{rows[:80]}...",
        )
        return fit_without(self.spec, modified_observed_data, self.cores, "refit", rows)

    def get_inference_data(self, fitted_model):
        return fitted_model  # the model is needed beside the draws to score new rows

    def log_likelihood__i(self, excluded_obs, idata__i):
        built, idata = idata__i
        seed = derive_seed(self.spec["seed"], "refit-score", *map(str, self._held_out))
        # The held-out rows along the same dimension as the original log-likelihood.
        return built.log_likelihood_on(idata, excluded_obs, seed).rename(__obs__="row")
