"""An example rung kind, for the test that adding one takes one module and a registry
line (tests/test_kinds.py): Welch's comparison of two groups, each with its own mean and
SD, as a PyMC model. The entry names outcome and group as a formula, `value ~ condition`."""

import numpy as np
import pandas as pd

from replication_ladder.base.errors import ConfigError
from replication_ladder.models.builders import stated
from replication_ladder.models.formulas import formula_terms
from replication_ladder.models.kinds.base import RungKind
from replication_ladder.models.prior_spec import Prior


class WelchModel:
    """The builder PymcRung fits: y ~ Normal(mu[g], sigma[g]), g the group (0 or 1); the
    difference mu[1] - mu[0] is stored under the group column's name."""

    level, likelihood, needs, expected, observed_name = "rows", "continuous", (), "mu", "y_obs"

    def __init__(self, response: str, group: str):
        self.response, self.group, self.predictors = response, group, (group,)

    def data(self, frame: pd.DataFrame) -> dict:
        response = frame[self.response] if self.response in frame else np.zeros(len(frame))
        group = frame[self.group].to_numpy(int)
        return {"g": group, self.observed_name: np.asarray(response, dtype=float)}

    def coords(self, frame: pd.DataFrame) -> dict:
        return {"obs": np.arange(len(frame)), "arm": [0, 1]}

    def parameters(self, spec: dict | None = None) -> tuple[str, ...]:
        return ("means", "sds")

    def priors(self, frame: pd.DataFrame, spec: dict | None = None) -> dict:
        return stated(
            spec,
            {
                "means": {"dist": "Normal", "mu": 0.0, "sigma": 10.0},
                "sds": {"dist": "HalfNormal", "sigma": 10.0},
            },
        )

    def __call__(self, frame: pd.DataFrame, spec: dict | None = None):
        import pymc as pm

        data, priors = self.data(frame), self.priors(frame, spec)
        with pm.Model(coords=self.coords(frame)) as model:
            g = pm.Data("g", data["g"], dims="obs")
            y = pm.Data(self.observed_name, data[self.observed_name], dims="obs")
            means = Prior(priors["means"]).random_variable("means", dims="arm")
            sds = Prior(priors["sds"]).random_variable("sds", dims="arm")
            pm.Deterministic(self.group, means[1] - means[0])
            mu = pm.Deterministic("mu", means[g], dims="obs")
            pm.Normal(self.response, mu=mu, sigma=sds[g], observed=y, dims="obs")
        return model


class Welch(RungKind):
    required = ("formula",)

    def _model(self, entry: dict, where: str) -> WelchModel:
        variables, _, (response,), _ = formula_terms(entry["formula"], f"{where}.formula")
        (group,) = variables - {response}
        return WelchModel(response, group)

    def columns(self, entry: dict, where: str) -> tuple[str, list[str]]:
        model = self._model(entry, where)
        return model.response, [model.group]

    def likelihood(self, entry: dict, where: str) -> str:
        return "continuous"

    def respects_design(self, entry: dict, clusters: set[str], where: str) -> bool:
        return not clusters

    def description(self, entry: dict) -> str:
        return f"Welch's two-group comparison: <code>{entry['formula']}</code>"

    def check(self, entry: dict, dataset: dict, model_spec: dict, where: str) -> None:
        model = self._model(entry, where)
        if dataset["columns"].get(model.group) != "binary":
            raise ConfigError(f"{where}.formula: {model.group!r} must be a binary column")

    def build(self, spec: dict, data: pd.DataFrame, where: str):
        from replication_ladder.models.kinds.pymc_builder import PymcRung

        return PymcRung(spec, data, self._model(spec, where))
