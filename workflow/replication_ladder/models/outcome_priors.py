"""Weakly informative priors stated on the outcome's scale: what the scaffold writes into
a new study's config, and what a formula rung gets for any term whose prior its config
leaves out, so that no rung runs on Bambi's data-scaled defaults by omission (`priors:
bambi` asks for them by name; a rung whose family has no rule here, or whose dataset
gives no `outcome.range` where its family needs one, must state every prior).
config/config.yaml states the shipped ones by hand, by the same reasoning.

The rule is written on the linear predictor's range [low, high] of span s, which the
family's entry in families.FAMILIES derives from the outcome's range: the range itself
for an identity link, its log for a log link (a count's with a half added), logit +-4
(probabilities from 2% to 98%) for a logit:

    Intercept          Normal(midpoint, s/4)      the mean outcome (Bambi centres the
                                                  predictors): anywhere on the scale
    threshold          Normal(logit(k/K), 1), ordered: equally likely categories
    treatment          Normal(0, s/8)             an effect of an eighth of the scale is
                                                  a large one
    another predictor  Normal(0, s/8 / (2 sd))    two SDs of it move the mean as much
    site intercepts    SD ~ HalfNormal(s/8), as deviations from the sites' average
                       (ZeroSumNormal: see site_intercepts)
    site slopes        SD ~ HalfNormal(s/16)
    participants       SD ~ HalfNormal(s/6)
    the family's own   Family.auxiliary: sigma HalfNormal(s/4) (below s/2, the largest
                       SD a bounded outcome can have), a Student-t's nu Gamma(2, 0.1)
                       (brms's), a negative binomial's alpha Gamma(2, 0.2), a beta's
                       kappa Gamma(2, 0.1)

Bambi's defaults scale by the data's SDs instead, and with a predictor far from zero
(age) their group-level SDs grow with it: HalfNormal(29) on a 0-9 rating.
"""

import math

import numpy as np

from replication_ladder.base.errors import ConfigError
from replication_ladder.models.families import FAMILIES, FAMILY_PARAMETERS
from replication_ladder.models.formulas import formula_terms
from replication_ladder.models.parameter_names import parse
from replication_ladder.models.prior_spec import Prior


def normal(mu: float, sigma: float) -> dict:
    return {"dist": "Normal", "mu": _round(mu), "sigma": _round(sigma)}


def half_normal(sigma: float) -> dict:
    return {"dist": "HalfNormal", "sigma": _round(sigma)}


def group(sigma: float) -> dict:
    return {"dist": "Normal", "mu": 0, "sigma": half_normal(sigma)}


def site_intercepts(sigma: float) -> dict:
    """Sites' intercepts as deviations that sum to zero. Independent intercepts around
    the Intercept make a ridge with it wherever a site's rows pin its mean and only the
    prior splits it into Intercept and deviation. The Intercept is then the sites'
    average: the model is the independent-intercepts one with the population mean's
    prior widened by sigma^2 / sites (1.5 -> 1.52 points for 17 sites at sigma 1).
    Non-centred (offsets times their SD), the form for sites of few rows each; the RRR's
    labs of ~400 ratings sample better centred, which its config states (measured in
    docs/calibration.md)."""
    return {"dist": "ZeroSumNormal", "sigma": half_normal(sigma)}


def _round(value: float) -> float:
    """Two significant figures: a prior states a scale, not a measurement."""
    if value == 0:
        return 0.0
    return float(f"{value:.2g}")


def outcome_scale_priors(
    bounds: tuple[float, float] | None,
    predictors: dict[str, float],
    *,
    treatment: str | None = None,
    site: str | None = None,
    participant: str | None = None,
    family: str = "gaussian",
    levels: int | None = None,
) -> dict[str, dict]:
    """Priors for every term a rung of `family` may have, by Bambi's term names, stated on
    its linear predictor's range (families.FAMILIES: the outcome's for an identity link,
    its log for a log link, logit +-4 for a logit): `predictors` maps each common
    predictor to its SD in the data (a binary's is taken as 0.5, so that its prior is
    that of a contrast); an ordinal family's `levels` are its categories."""
    entry = FAMILIES[family]
    line = entry.predictor_range(bounds)
    if line is None:
        raise ValueError(f"{family}'s default priors need the outcome's range, not {bounds}")
    low, high = line
    span = float(high - low)
    if not math.isfinite(span) or span <= 0:
        raise ValueError(f"the outcome's range must have two different ends, not {bounds}")
    if entry.link == "cumulative logit":
        priors = {"threshold": thresholds(levels)}
    else:
        priors = {"Intercept": normal((low + high) / 2, span / 4)}
    for name, sd in predictors.items():
        if name == treatment:
            priors[name] = normal(0, span / 8)
        else:
            priors[name] = normal(0, span / 8 / (2 * (sd if sd and np.isfinite(sd) else 0.5)))
    if site is not None:
        priors[f"1|{site}"] = site_intercepts(span / 8)
        if treatment is not None:
            priors[f"{treatment}|{site}"] = group(span / 16)
    if participant is not None:
        priors[f"1|{participant}"] = group(span / 6)
    return priors | entry.auxiliary(span)


def thresholds(levels: int | None) -> dict:
    """An ordinal rung's K - 1 thresholds where K equally likely categories put them
    (logit(k / K)), sorted, each give or take 1."""
    if not levels or levels < 2:
        raise ValueError("an ordinal family's default thresholds need its categories")
    mu = [round(math.log(k / (levels - k)), 2) for k in range(1, levels)]
    return {"dist": "Normal", "mu": mu, "sigma": 1, "transform": "ordered"}


def rung_priors(all_priors: dict[str, dict], terms: set[str], family: str) -> dict[str, dict]:
    """The priors of the terms a rung has, and of its family's own parameters."""
    own = terms | set(FAMILY_PARAMETERS[family])
    return {term: prior for term, prior in all_priors.items() if term in own}


BAMBI_DEFAULTS = "bambi"


def group_prior(term: str, span: float, site: str | None, participant: str | None) -> dict:
    """A group-level term's prior by what it groups: sites' intercepts and slopes, a
    participant's intercept, or another grouping (as a site's)."""
    name = parse(term)
    effect, factor = name.effect, name.group
    if factor == participant:
        return group(span / 6)
    if effect != "1":
        return group(span / 16)
    return site_intercepts(span / 8)


def has_rule(family: str, bounds) -> bool:
    """Whether a rung of `family` has default priors for terms its config leaves out (a
    family of the registry whose linear predictor's range follows from what is declared)."""
    entry = FAMILIES.get(family)
    return entry is not None and entry.predictor_range(bounds) is not None


def resolved_priors(spec: dict, data, terms: list[str]) -> dict:
    """The priors a formula rung is built with: `priors: bambi` gives Bambi's defaults
    (none stated); else the stated ones, and the family's rule above for every term left
    out (the config check refuses a rung with terms left out and no rule)."""
    stated = spec["priors"]
    if stated == BAMBI_DEFAULTS:
        return {}
    bounds = spec.get("outcome_range")
    if not has_rule(spec["family"], bounds):
        return dict(stated)
    common = [t for t in terms if parse(t).group is None and t != "Intercept"]
    sds = {
        t: float(np.nanstd(data[t].to_numpy(float)))
        if t in data and data[t].dtype.kind in "fiub"
        else None
        for t in common
    }
    family = spec["family"]
    levels = None
    if FAMILIES[family].link == "cumulative logit":
        (response,) = formula_terms(spec["formula"], "formula")[2]
        levels = int(data[response].nunique())
    rule = outcome_scale_priors(
        bounds, sds, treatment=spec.get("treatment"), family=family, levels=levels
    )
    low, high = FAMILIES[family].predictor_range(bounds)
    span = float(high - low)
    for term in terms:
        if parse(term).group is not None:
            rule[term] = group_prior(term, span, spec.get("site"), spec.get("participant"))
    own = set(terms) | set(FAMILY_PARAMETERS[family])
    return {**{term: prior for term, prior in rule.items() if term in own}, **stated}


# -- checks of a config's priors -------------------------------------------------------


def check_rung_priors(priors, allowed: set, where: str, treatment: str | None) -> None:
    """A rung's priors name its terms or parameters; the treatment's has a density."""
    if priors == BAMBI_DEFAULTS:
        return
    if isinstance(priors, str):
        raise ConfigError(
            f"{where}.priors: {priors!r} is a meta-analysis rung's set of priors; a formula "
            "rung states its priors by term, or asks for Bambi's with 'bambi'"
        )
    for term, prior in priors.items():
        if term not in allowed:
            raise ConfigError(
                f"{where}.priors: {term!r} is not a term or parameter of this rung "
                f"(it has: {', '.join(sorted(allowed))})"
            )
        Prior(prior).check(f"{where}.priors.{term}")
        if "truncate" in prior:
            raise ConfigError(
                f"{where}.priors.{term}.truncate: a rung's prior takes a distribution with "
                "the support it needs (HalfNormal for a positive value), not a truncation"
            )
        if term == treatment and not Prior(prior).fixed:
            raise ConfigError(
                f"{where}.priors.{term}: the treatment's prior must have fixed parameters: "
                "the verdict's Bayes factors need its density (a hierarchical prior has "
                "none in closed form)"
            )


def check_family(family: str, outcome: dict, where: str) -> None:
    """A declared outcome kind and the rung's family agree."""
    kind = outcome.get("kind")
    if kind is None:
        return
    models = [name for name, entry in FAMILIES.items() if kind in entry.kinds]
    if family not in models:
        raise ConfigError(
            f"{where}.family: a {family} rung cannot model the outcome declared a {kind} "
            f"({where.rsplit('.models.', 1)[0]}.outcome.kind); a {kind} takes "
            f"{', '.join(models)}"
        )
