"""PyMC models written by hand, for what a formula cannot say.

A builder is named in the config by its dotted path (`builder:
replication_ladder.models.builders.measurement_error`). Called with a table and the rung's spec,
it returns a `pm.Model` whose data live in `pm.Data` containers with named dims, so that
the same model predicts new rows after `pm.set_data` and refits other data without being
compiled again. It declares:

  level        "rows" (fitted to the processed table) or "sites" (to the per-site
               estimates of data/processed/{dataset}.sites.parquet)
  response     the modelled column; predictors, the columns it reads besides
  expected     the deterministic holding each row's expected value
  likelihood   "continuous" or "discrete" (what its LOO score is a log of)
  needs        dataset keys it needs (site, participant, treatment)

and may declare

  respects_design   True if it models what differs between sites (a verdict may rest
                    on it)
  averaged          True if it is a meta-analysis of an effect and a heterogeneity
                    that model averaging switches on and off (its priors.json is read)
"""

import importlib

import numpy as np
import pandas as pd

from replication_ladder.base.errors import ConfigError, ModelError
from replication_ladder.models.prior_spec import Prior

REQUIRED = (
    "response",
    "predictors",
    "expected",
    "data",
    "coords",
    "level",
    "parameters",
    "priors",
)


class MeasurementError:
    """A regression whose target is measured with a known standard error per row.

        m ~ Normal(0, 1) over the features, b ~ Normal(0, 1), sigma ~ HalfNormal(1)
        mu = X m + b
        y ~ Normal(mu, sigma * y_err)

    sigma scales the known standard errors y_err: rows measured precisely (many
    messages) count for more.
    """

    level = "rows"
    likelihood = "continuous"
    needs = ()
    features = ("x1", "x2", "x3", "x4")
    response = "share"
    predictors = (*features, "y_err")
    expected = "mu"

    def data(self, frame: pd.DataFrame) -> dict:
        """Values of the data containers for `frame` (the response as zeros if absent)."""
        response = (
            frame[self.response].to_numpy(float) if self.response in frame else np.zeros(len(frame))
        )
        return {
            "X": frame[list(self.features)].to_numpy(float),
            "y_err": frame["y_err"].to_numpy(float),
            self.observed_name: response,
        }

    observed_name = "y_obs"

    def coords(self, frame: pd.DataFrame) -> dict:
        return {"obs": np.arange(len(frame)), "feature": list(self.features)}

    def parameters(self, spec: dict | None = None) -> tuple[str, ...]:
        return ("m", "b", "sigma")

    def priors(self, frame: pd.DataFrame, spec: dict | None = None) -> dict:
        return stated(
            spec,
            {
                "m": {"dist": "Normal", "mu": 0.0, "sigma": 1.0},
                "b": {"dist": "Normal", "mu": 0.0, "sigma": 1.0},
                "sigma": {"dist": "HalfNormal", "sigma": 1.0},
            },
        )

    def __call__(self, frame: pd.DataFrame, spec: dict | None = None):
        import pymc as pm

        data = self.data(frame)
        priors = self.priors(frame, spec)
        with pm.Model(coords=self.coords(frame)) as model:
            X = pm.Data("X", data["X"], dims=("obs", "feature"))
            y_err = pm.Data("y_err", data["y_err"], dims="obs")
            y_obs = pm.Data(self.observed_name, data[self.observed_name], dims="obs")
            m = Prior(priors["m"]).random_variable("m", dims="feature")
            b = Prior(priors["b"]).random_variable("b")
            sigma = Prior(priors["sigma"]).random_variable("sigma")
            mu = pm.Deterministic("mu", X @ m + b, dims="obs")
            pm.Normal(self.response, mu=mu, sigma=sigma * y_err, observed=y_obs, dims="obs")
        return model


class MetaAnalysis:
    """The two-stage analysis as a rung: a meta-analysis of each site's treatment effect
    (from participant means, or read from a summary-level file) with its standard error
    taken as known, as the measurement-error model takes y_err. With random effects:

        effect_k ~ Normal(theta_k, se_k),  theta_k = mu + tau z_k,  z_k ~ Normal(0, 1)
        mu ~ Normal(0, s),  tau ~ InverseGamma(1, 0.15 s)

    RoBMA's default priors on d (Bartos et al. 2021), with s = 1 for a standardized
    effect (d, g) and the SD of participant means for a raw one (the same priors on the
    outcome's scale). `priors: metaBMA` or `priors: RoBMA` names either package's set (on
    d), so that a result can be set beside theirs. With a fixed effect (`fixed_effect`),
    theta_k = mu. Parameters are named like the formula rungs' so that tables line up: mu
    is `{treatment}`, tau `{treatment}|{site}_sigma`, and theta_k - mu `{treatment}|{site}`.
    """

    level = "sites"
    likelihood = "continuous"
    needs = ("site", "treatment")
    response = "effect"
    standardized_prior_sets = ("metaBMA", "RoBMA")  # names `priors:` may give (PRIOR_SETS)
    predictors = ("se",)
    expected = "theta"
    observed_name = "effect_obs"

    def __init__(self, random: bool = True):
        self.random = random

    @property
    def respects_design(self) -> bool:
        """Sites differ: only the random-effects form models them (a fixed effect never
        decides a verdict, however it scores on a handful of sites)."""
        return self.random

    @property
    def averaged(self) -> bool:
        """Its effect and tau are the two that model averaging switches on and off: only
        the random-effects form has both."""
        return self.random

    def data(self, frame: pd.DataFrame) -> dict:
        return {
            "se": frame["se"].to_numpy(float),
            self.observed_name: frame["effect"].to_numpy(float)
            if "effect" in frame
            else np.zeros(len(frame)),
        }

    def coords(self, frame: pd.DataFrame) -> dict:
        return {"site": [str(level) for level in frame["site"]]}

    @staticmethod
    def names(spec: dict | None) -> tuple[str, str]:
        """The pooled effect's name (the treatment column; `treatment` for a summary-level
        dataset without a verdict) and the heterogeneity's."""
        treatment = (spec or {}).get("treatment") or "treatment"
        site = (spec or {}).get("site") or "site"
        return treatment, f"{treatment}|{site}_sigma"

    def parameters(self, spec: dict | None = None) -> tuple[str, ...]:
        names = self.names(spec)
        return names if self.random else names[:1]

    def priors(self, frame: pd.DataFrame, spec: dict | None = None) -> dict:
        """The config's priors (`models.<rung>.priors`, by these names, or a set's name),
        else RoBMA's set scaled by the outcome's SD (1 for a standardized effect)."""
        pooled, heterogeneity = self.names(spec)
        named = (spec or {}).get("priors")
        if isinstance(named, str):  # checked against prior_sets with the config
            effect, tau = PRIOR_SETS[named]
            return {pooled: effect, heterogeneity: tau} if self.random else {pooled: effect}
        if set(self.parameters(spec)) <= set(named or {}):
            return stated(spec, {})
        standardized = (spec or {}).get("effect_size", "raw") != "raw"
        scale = 1.0 if standardized else float(frame["outcome_sd"].iloc[0])
        if not np.isfinite(scale):
            raise ModelError(
                f"the per-site table has no SDs to scale the default priors of {pooled!r} "
                f"and {heterogeneity!r} by: state them (models.<rung>.priors)"
            )
        effect, tau = (scaled_prior(prior, scale) for prior in PRIOR_SETS["RoBMA"])
        defaults = {pooled: effect, heterogeneity: tau} if self.random else {pooled: effect}
        return stated(spec, defaults)

    def deviations(self, priors: dict, spec: dict | None):
        """The sites' deviations from the pooled effect, tau times standardised offsets;
        or, where tau's prior says `noncentered: false`, the deviations themselves, which
        mix where the sites' SEs are small beside tau (the offsets' funnel is then the
        posterior's shape: the `within` dataset's labs)."""
        import pymc as pm

        treatment, heterogeneity = self.names(spec)
        name = f"{treatment}|{(spec or {}).get('site') or 'site'}"
        tau_prior = Prior(priors[heterogeneity])
        tau = tau_prior.random_variable(heterogeneity)
        if tau_prior.spec.get("noncentered") is False:
            return pm.Normal(name, 0.0, tau, dims="site")
        offset = pm.Normal(f"{name}_offset", 0.0, 1.0, dims="site")
        return pm.Deterministic(name, tau * offset, dims="site")

    def __call__(self, frame: pd.DataFrame, spec: dict | None = None):
        import pymc as pm

        treatment, _ = self.names(spec)
        priors = self.priors(frame, spec)
        data = self.data(frame)
        with pm.Model(coords=self.coords(frame)) as model:
            se = pm.Data("se", data["se"], dims="site")
            observed = pm.Data(self.observed_name, data[self.observed_name], dims="site")
            mu = Prior(priors[treatment]).random_variable(treatment)
            if self.random:
                theta = pm.Deterministic("theta", mu + self.deviations(priors, spec), dims="site")
            else:
                theta = pm.Deterministic("theta", mu + 0.0 * se, dims="site")
            pm.Normal(self.response, mu=theta, sigma=se, observed=observed, dims="site")
        return model


# The meta-analysis packages' default priors on d and tau, by name (`priors: metaBMA`):
# metaBMA's meta_bma() (Heck, Gronau & Wagenmakers) and RoBMA's (Bartos & Maier).
PRIOR_SETS = {
    "metaBMA": (
        {"dist": "Cauchy", "alpha": 0.0, "beta": 0.707},
        {"dist": "InverseGamma", "alpha": 1.0, "beta": 0.15},
    ),
    "RoBMA": (
        {"dist": "Normal", "mu": 0.0, "sigma": 1.0},
        {"dist": "InverseGamma", "alpha": 1.0, "beta": 0.15},
    ),
}


def scaled_prior(prior: dict, scale: float) -> dict:
    """A prior on d as the same prior on the outcome's scale (its scale parameter times
    the outcome's SD)."""
    key = {"Normal": "sigma", "Cauchy": "beta", "InverseGamma": "beta"}[prior["dist"]]
    return {**prior, key: float(prior[key]) * scale}


def stated(spec: dict | None, defaults: dict) -> dict:
    """A builder's priors: those the config states for the rung, the builder's defaults
    for the rest."""
    return {**defaults, **((spec or {}).get("priors") or {})}


measurement_error = MeasurementError()
meta_analysis = MetaAnalysis()
fixed_effect = MetaAnalysis(random=False)


def resolve_builder(path: str, where: str):
    """The builder a dotted path names; errors name the config key."""
    module_name, _, name = path.rpartition(".")
    try:
        builder = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"{where}: cannot import builder {path!r}: {error}") from None
    for attribute in REQUIRED:
        if not hasattr(builder, attribute):
            raise ConfigError(f"{where}: builder {path!r} has no {attribute!r}")
    return builder
