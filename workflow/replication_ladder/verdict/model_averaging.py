"""Bayesian model-averaged meta-analysis of the per-site effects (Gronau et al. 2017;
R's metaBMA), with the priors the meta-analysis rung states:

  fixed_null     effect_k ~ Normal(0, se_k)
  fixed_effect   effect_k ~ Normal(mu, se_k),                 mu ~ Normal(m, s)
  random_null    effect_k ~ Normal(0, sqrt(se_k^2 + tau^2)),  tau ~ the rung's tau prior
  random_effect  effect_k ~ Normal(mu, sqrt(se_k^2 + tau^2)), both priors

Marginal likelihoods, as metaBMA computes them by default (`logml = "integrate"`): mu
integrates out in closed form (the effects are jointly normal given tau, with covariance
diag(se^2 + tau^2) + s^2 11'), so the fixed models' are closed forms and the random
models' a one-dimensional integral over tau's prior, by Simpson's rule on a grid dense
near zero. The tests hold them to a two-dimensional quadrature over (mu, tau) and the
posteriors to the PyMC fit of the same model (the `meta_analysis` rung). Written here:
neither ArviZ nor PyMC computes marginal likelihoods (PyMC's SMC estimate carries Monte
Carlo error that a closed form does not), and metaBMA is R.

Posterior draws are exact: tau from its gridded posterior, then mu given tau from its
normal conditional. The model-averaged effect and tau follow metaBMA: the effect is
averaged over the two models with an effect (it is the estimate if there is one), tau
over the two random-effects models.
"""

import logging
import math

import numpy as np
from scipy import stats
from scipy.integrate import simpson
from scipy.special import logsumexp

from replication_ladder.base.errors import ConfigError
from replication_ladder.models.prior_spec import Prior
from replication_ladder.verdict.normal_likelihood import log_normal_integral, posterior_draws

log = logging.getLogger(__name__)

MODELS = ("fixed_null", "fixed_effect", "random_null", "random_effect")
HAS_EFFECT = {
    "fixed_null": False,
    "fixed_effect": True,
    "random_null": False,
    "random_effect": True,
}
HAS_TAU = {"fixed_null": False, "fixed_effect": False, "random_null": True, "random_effect": True}
GRID_POINTS = 4001  # odd, for Simpson's rule
TAU_TAIL = 1e-9  # prior mass of tau left beyond the grid
METHOD = "marginal likelihoods: mu in closed form, tau by quadrature (metaBMA's integrate)"
SENSITIVITY = (0.25, 0.5, 1.0, 2.0, 4.0)  # multiples of the stated prior scales


def tau_distribution(prior: dict, where: str):
    """The scipy distribution of a prior on tau (the positive families PyMC names)."""
    args = {k: float(v) for k, v in prior.items() if k != "dist"}
    dist = prior["dist"]
    if dist == "HalfNormal":
        return stats.halfnorm(scale=args["sigma"])
    if dist == "HalfCauchy":
        return stats.halfcauchy(scale=args["beta"])
    if dist == "HalfStudentT":
        return _HalfT(args["nu"], args["sigma"])
    if dist == "Exponential":
        return stats.expon(scale=1 / args["lam"])
    if dist == "InverseGamma":
        return stats.invgamma(args["alpha"], scale=args["beta"])
    raise ConfigError(
        f"{where}: model averaging takes a HalfNormal, HalfCauchy, HalfStudentT, "
        f"Exponential or InverseGamma prior on tau, not {dist}"
    )


class _HalfT:
    """PyMC's HalfStudentT, |T| with T ~ t(nu, 0, sigma): scipy has no half-t."""

    def __init__(self, nu: float, sigma: float):
        self.t = stats.t(nu, scale=sigma)

    def logpdf(self, x):
        return np.log(2.0) + self.t.logpdf(x)

    def ppf(self, q):
        return self.t.ppf(0.5 + q / 2)


def scaled(prior: dict, factor: float) -> dict:
    """The same prior with its scale multiplied by `factor`."""
    prior = dict(prior)
    for key in ("sigma", "beta"):
        if key in prior:
            prior[key] = float(prior[key]) * factor
            return prior
    prior["lam"] = float(prior["lam"]) / factor
    return prior


def pooled(effect, se, tau) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each tau of an array: the effects' likelihood of mu as a normal, N(mean, sd)
    (precision-weighted mean and its SD), and the log of what multiplies it (the
    effects' density at that mean times sqrt(2 pi) sd)."""
    tau = np.atleast_1d(np.asarray(tau, dtype=float))[:, None]
    v = se[None, :] ** 2 + tau**2
    w = 1 / v
    mean = (w * effect[None, :]).sum(1) / w.sum(1)
    sd = 1 / np.sqrt(w.sum(1))
    at_mean = -0.5 * (np.log(2 * math.pi * v) + (effect[None, :] - mean[:, None]) ** 2 * w).sum(1)
    return mean, sd, at_mean + 0.5 * np.log(2 * math.pi * sd**2)


def log_likelihood(effect, se, tau, effect_prior: Prior | None) -> np.ndarray:
    """log p(effects | tau) for each tau of an array, mu integrated out under
    `effect_prior` (or fixed at 0 when None): the likelihood of mu is a normal, so the
    integral is the prior's against it (closed for a normal prior, Simpson's rule for any
    other: normal_likelihood.log_normal_integral)."""
    if effect_prior is None:
        tau = np.atleast_1d(np.asarray(tau, dtype=float))[:, None]
        v = se[None, :] ** 2 + tau**2
        return -0.5 * (np.log(2 * math.pi * v) + effect[None, :] ** 2 / v).sum(1)
    mean, sd, outside = pooled(effect, se, tau)
    return outside + log_normal_integral(effect_prior, mean, sd)


def tau_grid(effect, se, tau_prior) -> np.ndarray:
    """Grid points of tau, dense near zero where the likelihood bends most."""
    data_scale = float(np.std(effect) + se.max())
    upper = min(float(tau_prior.ppf(1 - TAU_TAIL)), 50 * data_scale)
    return upper * np.linspace(0, 1, GRID_POINTS) ** 2


def _log_integral(log_f: np.ndarray, grid: np.ndarray) -> float:
    top = log_f.max()
    return top + math.log(simpson(np.exp(log_f - top), x=grid))


class Averaging:
    """The four models on one table of per-site effects, under one pair of priors."""

    def __init__(self, effect, se, effect_prior: dict, tau_prior: dict, where: str = "priors"):
        self.effect = np.asarray(effect, dtype=float)
        self.se = np.asarray(se, dtype=float)
        self.effect_prior = Prior(effect_prior)
        if not self.effect_prior.fixed:
            raise ConfigError(f"{where}: model averaging takes a prior with fixed parameters")
        self.tau_prior = tau_distribution(tau_prior, where)
        self.grid = tau_grid(self.effect, self.se, self.tau_prior)
        with np.errstate(divide="ignore"):
            self.log_prior_tau = np.nan_to_num(self.tau_prior.logpdf(self.grid), neginf=-np.inf)

    def _prior(self, model: str) -> Prior | None:
        return self.effect_prior if HAS_EFFECT[model] else None

    def log_tau_posterior(self, model: str) -> np.ndarray:
        """Unnormalised log posterior of tau on the grid."""
        return log_likelihood(self.effect, self.se, self.grid, self._prior(model)) + (
            self.log_prior_tau
        )

    def log_marginal(self, model: str) -> float:
        if not HAS_TAU[model]:
            return float(log_likelihood(self.effect, self.se, 0.0, self._prior(model))[0])
        return float(_log_integral(self.log_tau_posterior(model), self.grid))

    def posterior_probabilities(self, prior_probabilities: dict) -> dict:
        logs = {m: self.log_marginal(m) + math.log(prior_probabilities[m]) for m in MODELS}
        total = logsumexp(list(logs.values()))
        return {m: math.exp(value - total) for m, value in logs.items()}

    def draws(self, model: str, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Exact posterior draws of mu and tau under one model."""
        if HAS_TAU[model]:
            log_post = self.log_tau_posterior(model)
            density = np.exp(log_post - log_post.max())
            cdf = np.concatenate(
                [[0.0], np.cumsum(np.diff(self.grid) * (density[1:] + density[:-1]) / 2)]
            )
            tau = np.interp(rng.uniform(0, cdf[-1], n), cdf, self.grid)
        else:
            tau = np.zeros(n)
        if not HAS_EFFECT[model]:
            return {"mu": np.zeros(n), "tau": tau}
        mean, sd, _ = pooled(self.effect, self.se, tau)
        return {"mu": posterior_draws(self.effect_prior, mean, sd, rng), "tau": tau}


def inclusion_bf(probabilities: dict, prior_probabilities: dict, included: dict) -> float:
    """The inclusion Bayes factor: posterior over prior odds of the models with a
    component against those without it."""

    def odds(p):
        inside = sum(p[m] for m in MODELS if included[m])
        return inside / (1 - inside)

    return odds(probabilities) / odds(prior_probabilities)


def interval(values: np.ndarray, ci_prob: float) -> dict:
    low, high = np.quantile(values, [(1 - ci_prob) / 2, (1 + ci_prob) / 2])
    return {
        "mean": float(values.mean()),
        "sd": float(values.std()),
        "ci_low": float(low),
        "ci_high": float(high),
    }


def typical_variance(se) -> float:
    """The typical within-site variance of I^2 (Higgins & Thompson 2002)."""
    w = 1 / np.asarray(se, dtype=float) ** 2
    return float((w.size - 1) * w.sum() / (w.sum() ** 2 - (w**2).sum()))


def _mixture(draws: dict, weights: dict, n: int, rng) -> dict[str, np.ndarray]:
    """n draws from the models in `weights`, each in proportion to its weight."""
    names = list(weights)
    p = np.array([weights[m] for m in names])
    counts = rng.multinomial(n, p / p.sum())
    return {
        key: np.concatenate([draws[m][key][:c] for m, c in zip(names, counts, strict=True)])
        for key in ("mu", "tau")
    }


def averaged_meta_analysis(effect, se, priors: dict, spec: dict) -> dict:
    """Posterior model probabilities, inclusion Bayes factors, per-model and averaged
    estimates, the prediction interval of a new site's effect, I^2, and the inclusion
    Bayes factors' sensitivity to the priors' scales."""
    where = spec.get("where", "priors")
    averaging = Averaging(effect, se, priors["effect"], priors["tau"], where)
    prior_probabilities = dict(zip(MODELS, spec["prior_probabilities"], strict=True))
    probabilities = averaging.posterior_probabilities(prior_probabilities)
    rng = np.random.default_rng(spec["seed"])
    n, ci_prob = spec["draws"], spec["ci_prob"]
    draws = {m: averaging.draws(m, n, rng) for m in MODELS}
    models = {
        m: {
            "prior_probability": prior_probabilities[m],
            "log_marginal_likelihood": averaging.log_marginal(m),
            "posterior_probability": probabilities[m],
            "effect": interval(draws[m]["mu"], ci_prob) if HAS_EFFECT[m] else None,
            "tau": interval(draws[m]["tau"], ci_prob) if HAS_TAU[m] else None,
        }
        for m in MODELS
    }
    with_effect = _mixture(draws, {m: probabilities[m] for m in MODELS if HAS_EFFECT[m]}, n, rng)
    every_model = _mixture(draws, probabilities, n, rng)
    with_tau = _mixture(draws, {m: probabilities[m] for m in MODELS if HAS_TAU[m]}, n, rng)
    new_site = with_effect["mu"] + with_effect["tau"] * rng.standard_normal(n)
    typical = typical_variance(se)
    i2 = 100 * with_tau["tau"] ** 2 / (with_tau["tau"] ** 2 + typical)
    return {
        "priors": priors,
        "method": METHOD,
        "models": models,
        "inclusion": {
            "effect_bf10": inclusion_bf(probabilities, prior_probabilities, HAS_EFFECT),
            "heterogeneity_bf": inclusion_bf(probabilities, prior_probabilities, HAS_TAU),
        },
        "averaged": {
            # Conditional on an effect (metaBMA's and JASP's estimate), and over all four
            # models, the nulls' zero included (RoBMA's model-averaged one).
            "effect": interval(with_effect["mu"], ci_prob),
            "effect_all_models": interval(every_model["mu"], ci_prob),
            "conditional_on": {
                "effect": "an effect: averaged over the two models with one",
                "tau": "heterogeneity: averaged over the two random-effects models",
                "effect_all_models": "nothing: all four models, the nulls' effect at zero",
            },
            "tau": interval(with_tau["tau"], ci_prob),
            "i2": interval(i2, ci_prob),
            "prediction": interval(new_site, ci_prob),
        },
        "sensitivity": sensitivity(effect, se, priors, prior_probabilities, where),
        "ci_prob": ci_prob,
        "seed": spec["seed"],
        "draws": n,
    }


def sensitivity(effect, se, priors: dict, prior_probabilities: dict, where: str) -> list[dict]:
    """The inclusion Bayes factors with each prior's scale multiplied by 1/4 to 4."""
    rows = []
    for effect_factor in SENSITIVITY:
        for tau_factor in SENSITIVITY:
            averaging = Averaging(
                effect,
                se,
                scaled(priors["effect"], effect_factor),
                scaled(priors["tau"], tau_factor),
                where,
            )
            probabilities = averaging.posterior_probabilities(prior_probabilities)
            rows.append(
                {
                    "effect_scale": effect_factor,
                    "tau_scale": tau_factor,
                    "effect_bf10": inclusion_bf(probabilities, prior_probabilities, HAS_EFFECT),
                    "heterogeneity_bf": inclusion_bf(probabilities, prior_probabilities, HAS_TAU),
                }
            )
    return rows


def meta_priors(stated: dict, rung: dict) -> dict:
    """The effect's and tau's priors among a meta-analysis rung's stated priors (its
    fit's priors.json), by the names the rung gives them."""
    from replication_ladder.models.builders import MetaAnalysis

    effect_name, tau_name = MetaAnalysis.names(rung)
    return {"effect": stated[effect_name], "tau": stated[tau_name]}
