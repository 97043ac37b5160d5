"""Bambi's families, known without importing Bambi (a Snakemake parse stays quick), and the
registry of those the ladder states default priors for: each family's link, the scale its
treatment coefficient is on, the outcomes it suits, and its default priors' rule.

A new family is one entry in FAMILIES: its rule says how its linear predictor's range
follows from the outcome's (the priors of replication_ladder.models.outcome_priors are
stated on that range) and which priors its own parameters take.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

# Bambi's families and their auxiliary parameters (those a prior may name besides the
# formula's terms). tests/test_config.py keeps this in step with bambi's BUILTIN_FAMILIES,
# so that a config is checked at start without importing Bambi into every Snakemake parse.
FAMILY_PARAMETERS: dict[str, tuple[str, ...]] = {
    "asymmetriclaplace": ("b", "kappa"),
    "bernoulli": (),
    "beta": ("kappa",),
    "beta_binomial": ("kappa",),
    "binomial": (),
    "categorical": (),
    "cumulative": ("threshold",),
    "dirichlet_multinomial": (),
    "exgaussian": ("sigma", "nu"),
    "exponential": (),
    "gamma": ("alpha",),
    "gaussian": ("sigma",),
    "hurdle_gamma": ("alpha", "psi"),
    "hurdle_lognormal": ("sigma", "psi"),
    "hurdle_negativebinomial": ("alpha", "psi"),
    "hurdle_poisson": ("psi",),
    "laplace": ("b",),
    "lognormal": ("sigma",),
    "multinomial": (),
    "negativebinomial": ("alpha",),
    "poisson": (),
    "sratio": ("threshold",),
    "t": ("sigma", "nu"),
    "vonmises": ("kappa",),
    "wald": ("lam",),
    "weibull": ("alpha",),
    "zero_inflated_binomial": ("psi",),
    "zero_inflated_negativebinomial": ("alpha", "psi"),
    "zero_inflated_poisson": ("psi",),
}
# Ordinal families: their response is an ordered category.
ORDINAL_FAMILIES = ("cumulative", "sratio")
# Families whose likelihood is a probability of discrete values: their LOO is not on the
# scale of a continuous density, so the two are never compared.
DISCRETE_FAMILIES = frozenset(
    {
        "bernoulli",
        "beta_binomial",
        "binomial",
        "categorical",
        "cumulative",
        "dirichlet_multinomial",
        "hurdle_negativebinomial",
        "hurdle_poisson",
        "multinomial",
        "negativebinomial",
        "poisson",
        "sratio",
        "zero_inflated_binomial",
        "zero_inflated_negativebinomial",
        "zero_inflated_poisson",
    }
)


# The kinds of outcome a study may declare (outcome.kind, the scaffold's --outcome-kind).
OUTCOME_KINDS = ("rating", "time", "count", "binary", "proportion")
# A logit's reach: probabilities from 2% to 98% (logit +-4), the span its priors are
# stated on, as an outcome's range is for an identity link.
LOGIT_RANGE = (-4.0, 4.0)


@dataclass(frozen=True)
class Family:
    """A family with stated default priors.

    Parameters
    ----------
    name : str
        Bambi's name.
    link : str
        Its mean's link: identity, log, logit, or cumulative logit.
    effect_scale : str
        What the treatment's coefficient is a difference of: `outcome` (units of the
        outcome), `log` (a log ratio), `log odds` or `latent` (a latent logistic
        variable's). A verdict is given on the scale its dataset states
        (replication.scale), by a rung on that scale.
    kinds : tuple of str
        The outcome kinds (OUTCOME_KINDS) it models.
    predictor_range : callable
        The outcome's range (low, high), or None, to the linear predictor's range the
        default priors are stated on; None where the range is needed and not given.
    auxiliary : dict
        The default priors of its own parameters, given the linear predictor's span.
    """

    name: str
    link: str
    effect_scale: str
    kinds: tuple[str, ...]
    predictor_range: Callable[[tuple | None], tuple | None]
    auxiliary: Callable[[float], dict] = field(default=lambda span: {})

    @property
    def parameters(self) -> tuple[str, ...]:
        return FAMILY_PARAMETERS[self.name]


def _identity(bounds):
    return None if bounds is None else (float(bounds[0]), float(bounds[1]))


def _log(bounds):
    """A positive outcome's range on the log scale (a time)."""
    if bounds is None or float(bounds[0]) <= 0:
        return None
    return math.log(float(bounds[0])), math.log(float(bounds[1]))


def _log_count(bounds):
    """A count's range on the log scale, a half added (a count may be 0)."""
    if bounds is None:
        return None
    return math.log(max(float(bounds[0]), 0.0) + 0.5), math.log(float(bounds[1]) + 0.5)


def _logit(bounds):
    return LOGIT_RANGE


def _half_normal(scale: float) -> dict:
    return {"dist": "HalfNormal", "sigma": float(f"{scale:.2g}")}


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family(
            "gaussian",
            "identity",
            "outcome",
            ("rating",),
            _identity,
            lambda span: {"sigma": _half_normal(span / 4)},
        ),
        # brms's prior on a Student-t's degrees of freedom (Juarez & Steel 2010).
        Family(
            "t",
            "identity",
            "outcome",
            ("rating",),
            _identity,
            lambda span: {
                "sigma": _half_normal(span / 4),
                "nu": {"dist": "Gamma", "alpha": 2.0, "beta": 0.1},
            },
        ),
        Family(
            "lognormal",
            "log",
            "log",
            ("time",),
            _log,
            lambda span: {"sigma": _half_normal(span / 4)},
        ),
        Family("poisson", "log", "log", ("count",), _log_count),
        # Overdispersion: alpha near 0 is heavy, large is Poisson; Gamma(2, 0.2) has its
        # median near 8 and keeps 95% between 1.2 and 28.
        Family(
            "negativebinomial",
            "log",
            "log",
            ("count",),
            _log_count,
            lambda span: {"alpha": {"dist": "Gamma", "alpha": 2.0, "beta": 0.2}},
        ),
        Family("bernoulli", "logit", "log odds", ("binary",), _logit),
        Family("binomial", "logit", "log odds", ("proportion", "count"), _logit),
        Family(
            "beta",
            "logit",
            "log odds",
            ("proportion",),
            _logit,
            lambda span: {"kappa": {"dist": "Gamma", "alpha": 2.0, "beta": 0.1}},
        ),
        Family("cumulative", "cumulative logit", "latent", ("rating",), _logit),
    )
}
