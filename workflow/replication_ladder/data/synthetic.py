"""Synthetic datasets with known truth, generated from a seed.

Each generator returns the data and the true parameter values, keyed by the labels the
ladder's models give those parameters (ArviZ's labels of Bambi's names: `Intercept`,
`C(D)[1]`, `1|study_sigma`), so that recovery is a lookup, not a guess.
"""

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from replication_ladder.base.atomic import write_json, write_text
from replication_ladder.base.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Generated:
    data: pd.DataFrame
    truth: dict[str, float]
    holdout: pd.DataFrame | None = None  # rows generated alike but kept out of the fit


def linear(rng: np.random.Generator, n: int, alpha: float, beta: float, sigma: float) -> Generated:
    x = rng.standard_normal(n)
    y = alpha + beta * x + rng.normal(0.0, sigma, n)
    return Generated(
        pd.DataFrame({"X": x, "Y": y}), {"Intercept": alpha, "X": beta, "sigma": sigma}
    )


def categorical(
    rng: np.random.Generator,
    n: int,
    alpha: float,
    beta: float,
    gamma: float,
    sigma: float,
    p_d: float,
) -> Generated:
    x = rng.standard_normal(n)
    d = rng.binomial(1, p_d, n)
    y = alpha + beta * x + gamma * d + rng.normal(0.0, sigma, n)
    return Generated(
        pd.DataFrame({"X": x, "D": d, "Y": y}),
        {"Intercept": alpha, "X": beta, "C(D)[1]": gamma, "sigma": sigma},
    )


def logit(rng: np.random.Generator, n: int, alpha: float, beta: float, gamma: float) -> Generated:
    frac = rng.uniform(0.0, 2.0, n)
    div = rng.binomial(1, 0.5, n)
    p = 1.0 / (1.0 + np.exp(-(alpha + beta * frac + gamma * div)))
    stay = rng.binomial(1, p)
    return Generated(
        pd.DataFrame({"frac": frac, "div": div, "stay": stay}),
        {"Intercept": alpha, "frac": beta, "C(div)[1]": gamma},
    )


def multisite(
    rng: np.random.Generator,
    sites: int,
    participants: int,
    ratings: int,
    intercept: float,
    condition: float,
    age: float,
    gender: float,
    site_sd_intercept: float,
    site_sd_condition: float,
    sigma: float,
    participant_sd: float,
    stimulus_effects: list[float],
) -> Generated:
    """RRR-shaped data: sites x participants (Poisson around `participants`) x ratings,
    each participant rating every stimulus once, with a random intercept per participant
    (SD `participant_sd`) and a fixed effect per stimulus (the first is the baseline)."""
    if len(stimulus_effects) != ratings:
        raise ConfigError(
            f"multisite: stimulus_effects has {len(stimulus_effects)} values; one per rating "
            f"({ratings}) is needed"
        )
    # The participant and stimulus effects come from a stream of their own, so the draws
    # below stay what they were without them.
    (extra,) = rng.spawn(1)
    site_intercepts = rng.normal(0.0, site_sd_intercept, sites)
    site_slopes = rng.normal(0.0, site_sd_condition, sites)
    counts = rng.poisson(participants, sites)
    site = np.repeat(np.arange(sites), counts)
    n_people = site.size
    person = {
        "uid": np.arange(1, n_people + 1),
        "condition": rng.binomial(1, 0.5, n_people),
        "gender": rng.binomial(1, 0.3, n_people),
        "age": np.round(18 + rng.gamma(2.0, 1.5, n_people)),
        "study": site,
    }
    rows = {key: np.repeat(values, ratings) for key, values in person.items()}
    stimulus = np.tile(np.arange(ratings), n_people)
    rows["stimulus"] = np.array([f"s{k + 1}" for k in range(ratings)])[stimulus]
    person_effects = extra.normal(0.0, participant_sd, n_people)
    s, c = rows["study"], rows["condition"]
    mean = (
        intercept
        + site_intercepts[s]
        + (condition + site_slopes[s]) * c
        + age * rows["age"]
        + gender * rows["gender"]
        + np.repeat(person_effects, ratings)
        + np.asarray(stimulus_effects, float)[stimulus]
    )
    rows["value"] = mean + rng.normal(0.0, sigma, mean.size)
    # The rungs' site intercepts sum to zero (priors.site_intercepts): their truth is the
    # drawn ones' deviations from their average, which the Intercept takes up.
    average = float(site_intercepts.mean())
    truth = {
        "Intercept": intercept + average + stimulus_effects[0],
        "condition": condition,
        "age": age,
        "gender": gender,
        "sigma": sigma,
        "1|study_sigma": site_sd_intercept,
        "condition|study_sigma": site_sd_condition,
        "1|uid_sigma": participant_sd,
    }
    for k in range(1, ratings):
        truth[f"C(stimulus)[s{k + 1}]"] = stimulus_effects[k] - stimulus_effects[0]
    for k in range(sites):
        truth[f"1|study[{k}]"] = float(site_intercepts[k]) - average
        truth[f"condition|study[{k}]"] = float(site_slopes[k])
    return Generated(pd.DataFrame(rows), truth)


def within_sites(
    rng: np.random.Generator,
    sites: int,
    participants: int,
    trials: int,
    intercept: float,
    condition: float,
    moderator: float,
    site_sd_intercept: float,
    site_sd_condition: float,
    participant_sd_intercept: float,
    participant_sd_condition: float,
    sigma: float,
    missing: float,
) -> Generated:
    """A multi-lab study with the treatment within participants and a skewed outcome:
    every child sees `trials` trials of each condition, a looking time lognormal around
    its mean (log scale: `intercept`, the condition's log ratio `condition` plus its lab's
    and its child's deviations, the lab's centred mean age times `moderator` on the
    effect), and a share `missing` of trials lost at random."""
    (extra,) = rng.spawn(1)
    counts = np.maximum(3, rng.poisson(participants, sites))
    lab = np.repeat(np.arange(sites), counts)
    n_children = lab.size
    mean_age = np.round(rng.uniform(6, 14, sites), 1)  # months, a lab-level moderator
    age_c = mean_age - mean_age.mean()
    lab_intercepts = rng.normal(0, site_sd_intercept, sites)
    lab_slopes = rng.normal(0, site_sd_condition, sites)
    child_intercepts = extra.normal(0, participant_sd_intercept, n_children)
    child_slopes = extra.normal(0, participant_sd_condition, n_children)
    child = np.repeat(np.arange(n_children), 2 * trials)
    treated = np.tile(np.repeat([0, 1], trials), n_children)
    slope = condition + lab_slopes[lab] + moderator * age_c[lab] + child_slopes
    log_mean = intercept + lab_intercepts[lab] + child_intercepts
    log_time = log_mean[child] + slope[child] * treated + rng.normal(0, sigma, child.size)
    kept = rng.uniform(size=child.size) >= missing
    data = pd.DataFrame(
        {
            "lab": [f"lab{k + 1:02d}" for k in lab[child][kept]],
            "child": child[kept] + 1,
            "condition": treated[kept],
            "mean_age": mean_age[lab[child][kept]],
            "looking_time": np.round(np.exp(log_time[kept]), 3),
        }
    )
    truth = {
        "condition": condition,
        "condition:center(mean_age)": moderator,
        "sigma": sigma,
        "condition|lab_sigma": site_sd_condition,
        "1|child_sigma": participant_sd_intercept,
        "condition|child_sigma": participant_sd_condition,
    }
    return Generated(data, truth)


def measurement_error(
    rng: np.random.Generator, n: int, b: float, m: list[float], sigma: float, messages_median: float
) -> Generated:
    """A share of messages whose standard error shrinks with the messages sent."""
    features = [f"x{i + 1}" for i in range(len(m))]
    x = rng.standard_normal((n, len(m)))
    x = (x - x.mean(axis=0)) / x.std(axis=0)  # standardised exactly, as in the talk
    messages = np.maximum(5, np.round(rng.lognormal(np.log(messages_median), 1.0, n)))
    y_err = 1.0 / np.sqrt(messages)
    share = x @ np.asarray(m) + b + sigma * y_err * rng.standard_normal(n)
    data = pd.DataFrame(x, columns=features)
    data["messages"] = messages.astype(int)
    data["y_err"] = y_err
    data["share"] = share
    truth = {"b": b, "sigma": sigma} | {
        f"m[{f}]": float(v) for f, v in zip(features, m, strict=True)
    }
    return Generated(data, truth)


GENERATORS: dict[str, Callable[..., Generated]] = {
    "linear": linear,
    "categorical": categorical,
    "logit": logit,
    "multisite": multisite,
    "within_sites": within_sites,
    "measurement_error": measurement_error,
}


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fits(value, annotation) -> bool:
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return _is_number(value)
    # list[float]
    return isinstance(value, list) and bool(value) and all(_is_number(v) for v in value)


def _expected_params(generator: str) -> dict:
    signature = inspect.signature(GENERATORS[generator])
    expected = {name: p.annotation for name, p in signature.parameters.items() if name != "rng"}
    if "n" in expected:  # row-wise generators can hold rows out, for predictions
        expected["holdout"] = int
    return expected


def check_generator_params(generator: str, params: dict, where: str) -> None:
    """Every parameter of the generator given, nothing else, each of its annotated type
    (`holdout`, the rows kept out of the fit, may be left out: none)."""
    expected = _expected_params(generator)
    missing = [name for name in expected if name not in params and name != "holdout"]
    unknown = sorted(set(params) - set(expected))
    if missing:
        raise ConfigError(f"{where}.params: missing {missing[0]!r} for generator {generator!r}")
    if unknown:
        raise ConfigError(
            f"{where}.params: unknown parameter {unknown[0]!r} for generator {generator!r} "
            f"(expected: {', '.join(expected)})"
        )
    for name, annotation in expected.items():
        if name in params and not _fits(params[name], annotation):
            kind = {int: "an integer", float: "a number"}.get(annotation, "a list of numbers")
            raise ConfigError(f"{where}.params.{name}: expected {kind}, got {params[name]!r}")


def generate(source: dict) -> Generated:
    """The dataset from its seed; `holdout` more rows drawn alike are split off last."""
    rng = np.random.default_rng(source["seed"])
    params = dict(source["params"])
    holdout = params.pop("holdout", 0)
    if holdout:
        params["n"] += holdout
    generated = GENERATORS[source["generator"]](rng, **params)
    n_fit = len(generated.data) - holdout
    return Generated(
        generated.data.iloc[:n_fit].reset_index(drop=True),
        generated.truth,
        generated.data.iloc[n_fit:].reset_index(drop=True),
    )


def write_synthetic(source: dict, data_path: str, truth_path: str, holdout_path: str) -> None:
    generated = generate(source)
    write_text(data_path, generated.data.to_csv(index=False))
    write_text(holdout_path, generated.holdout.to_csv(index=False))
    write_json(
        truth_path,
        {
            "generator": source["generator"],
            "seed": source["seed"],
            "params": source["params"],
            "parameters": generated.truth,
        },
    )
    log.info(
        "generated %d rows of %s (seed %d)",
        len(generated.data),
        source["generator"],
        source["seed"],
    )
