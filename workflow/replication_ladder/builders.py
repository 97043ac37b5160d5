"""PyMC models written by hand, for what a formula cannot say.

A builder is named in the config by its dotted path (`builder:
replication_ladder.builders.measurement_error`). It turns the processed table into a
`pm.Model` whose data live in `pm.Data` containers with named dims, so that the same
model predicts new rows after `pm.set_data`. It declares its response and predictor
columns, which the workflow checks new rows against.
"""

import importlib

import numpy as np
import pandas as pd

from replication_ladder.errors import ConfigError


class MeasurementError:
    """A regression whose target is measured with a known standard error per row.

        m ~ Normal(0, 1) over the features, b ~ Normal(0, 1), sigma ~ HalfNormal(1)
        mu = X m + b
        y ~ Normal(mu, sigma * y_err)

    sigma scales the known standard errors y_err: rows measured precisely (many
    messages) count for more.
    """

    features = ("x1", "x2", "x3", "x4")
    response = "share"
    predictors = (*features, "y_err")
    expected = "mu"  # the deterministic holding the expected value of each row

    def data(self, frame: pd.DataFrame) -> dict:
        """Values of the data containers for `frame` (the response as NaN if absent)."""
        response = (
            frame[self.response].to_numpy(float) if self.response in frame else np.zeros(len(frame))
        )
        return {
            "X": frame[list(self.features)].to_numpy(float),
            "y_err": frame["y_err"].to_numpy(float),
            "y_obs": response,
        }

    def coords(self, frame: pd.DataFrame) -> dict:
        return {"obs": np.arange(len(frame)), "feature": list(self.features)}

    def __call__(self, frame: pd.DataFrame):
        import pymc as pm

        data = self.data(frame)
        with pm.Model(coords=self.coords(frame)) as model:
            X = pm.Data("X", data["X"], dims=("obs", "feature"))
            y_err = pm.Data("y_err", data["y_err"], dims="obs")
            y_obs = pm.Data("y_obs", data["y_obs"], dims="obs")
            m = pm.Normal("m", 0.0, 1.0, dims="feature")
            b = pm.Normal("b", 0.0, 1.0)
            sigma = pm.HalfNormal("sigma", 1.0)
            mu = pm.Deterministic("mu", X @ m + b, dims="obs")
            pm.Normal(self.response, mu=mu, sigma=sigma * y_err, observed=y_obs, dims="obs")
        return model


measurement_error = MeasurementError()


def resolve_builder(path: str, where: str):
    """The builder a dotted path names; errors name the config key."""
    module_name, _, name = path.rpartition(".")
    try:
        builder = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"{where}: cannot import builder {path!r}: {error}") from None
    for attribute in ("response", "predictors", "expected", "data", "coords"):
        if not hasattr(builder, attribute):
            raise ConfigError(f"{where}: builder {path!r} has no {attribute!r}")
    return builder


def log_likelihood_on(builder_path: str, model, posterior, frame: pd.DataFrame):
    """Pointwise log-likelihood of the rows of `frame` under the posterior draws."""
    import pymc as pm
    import xarray as xr

    from replication_ladder.models import pointwise_log_likelihood

    builder = resolve_builder(builder_path, "builder")
    with model:
        pm.set_data(builder.data(frame), coords=builder.coords(frame))
    values = pointwise_log_likelihood(model, posterior["posterior"].to_dataset())
    return xr.DataArray(values, dims=("chain", "draw", "__obs__"))
