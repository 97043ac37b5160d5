"""Priors on the outcome's scale: the scaffold states one for every term of every rung it
writes, from the outcome's range in the file, by the rule replication_ladder.models.outcome_priors
documents (checked here against that rule written out from the file's own figures)."""

import numpy as np
import pandas as pd
import pytest
import yaml

from replication_ladder.config import Ladder
from replication_ladder.models.formulas import formula_terms
from replication_ladder.models.outcome_priors import outcome_scale_priors
from replication_ladder.scaffold.trial import scaffold


def study_file(folder) -> tuple:
    rng = np.random.default_rng(8)
    rows = 240
    table = pd.DataFrame(
        {
            "lab": np.repeat(["a", "b", "c", "d"], rows // 4),
            "subject": np.repeat(np.arange(rows // 2), 2),
            "pen": np.repeat(rng.integers(0, 2, rows // 2), 2),
            "age": rng.normal(21, 3, rows).round(1),
            "rating": rng.integers(1, 8, rows),
        }
    )
    path = folder / "pens.csv"
    table.to_csv(path, index=False)
    return path, table


def test_the_scaffold_states_every_prior_on_the_outcomes_range(tmp_path):
    path, table = study_file(tmp_path)
    text = scaffold(path, "pens", outcome="rating", treatment="pen", site="lab")
    assert "outcome.range [1.0, 7.0]" in text and "Normal(midpoint, s/4)" in text
    block = yaml.safe_load(text)["datasets"]["pens"]
    assert block["outcome"]["range"] == [1.0, 7.0]
    span = 6.0
    models = block["models"]
    assert set(models) == {"fixed", "random_intercept", "random_slope", "participant"}
    participant = models["participant"]["priors"]
    assert participant["Intercept"] == {"dist": "Normal", "mu": 4.0, "sigma": span / 4}
    assert participant["pen"] == {"dist": "Normal", "mu": 0, "sigma": span / 8}
    age_sigma = float(f"{span / 8 / (2 * table['age'].std(ddof=0)):.2g}")
    assert participant["age"] == {"dist": "Normal", "mu": 0, "sigma": age_sigma}
    assert participant["1|subject"]["sigma"] == {"dist": "HalfNormal", "sigma": span / 6}
    assert participant["1|lab"] == {
        "dist": "ZeroSumNormal",
        "sigma": {"dist": "HalfNormal", "sigma": 0.75},
    }
    assert participant["pen|lab"]["sigma"] == {"dist": "HalfNormal", "sigma": 0.38}
    assert participant["sigma"] == {"dist": "HalfNormal", "sigma": span / 4}
    for model, entry in models.items():
        terms = set(formula_terms(entry["formula"], model)[1]) | {"sigma"}
        assert set(entry["priors"]) == terms, model
    Ladder(yaml.safe_load(text))  # the config checks every prior against its rung


def test_a_range_without_two_ends_is_refused():
    with pytest.raises(ValueError, match="two different ends"):
        outcome_scale_priors((3.0, 3.0), {})


def test_terms_left_out_follow_the_outcomes_range_and_bambi_is_asked_by_name():
    """A gaussian rung of a dataset with outcome.range: each term without a stated prior
    gets the rule's (here the RRR's 0-9 scale: span 9); `priors: bambi` states none, so
    Bambi's own apply; without a range, only the stated ones."""
    from replication_ladder.models.outcome_priors import resolved_priors

    table = pd.DataFrame({"condition": [0, 1] * 10, "age": np.arange(20.0)})
    terms = ["Intercept", "condition", "age", "1|study", "condition|study", "1|uid"]
    spec = {
        "priors": {"age": {"dist": "Normal", "mu": 0, "sigma": 0.1}},
        "outcome_range": [0, 9],
        "family": "gaussian",
        "treatment": "condition",
        "site": "study",
        "participant": "uid",
    }
    priors = resolved_priors(spec, table, terms)
    assert priors["age"] == {"dist": "Normal", "mu": 0, "sigma": 0.1}  # as stated
    assert priors["Intercept"] == {"dist": "Normal", "mu": 4.5, "sigma": 2.2}
    assert priors["condition"] == {"dist": "Normal", "mu": 0, "sigma": 1.1}
    assert priors["1|study"]["sigma"] == {"dist": "HalfNormal", "sigma": 1.1}
    assert priors["condition|study"]["sigma"] == {"dist": "HalfNormal", "sigma": 0.56}
    assert priors["1|uid"]["sigma"] == {"dist": "HalfNormal", "sigma": 1.5}
    assert priors["sigma"] == {"dist": "HalfNormal", "sigma": 2.2}
    assert resolved_priors({**spec, "priors": "bambi"}, table, terms) == {}
    unranged = resolved_priors({**spec, "outcome_range": None}, table, terms)
    assert unranged == spec["priors"]


@pytest.mark.parametrize("noncentered", [False, True])
def test_zero_sum_site_intercepts_have_the_stated_distribution(noncentered):
    """Sites' intercepts as a ZeroSumNormal with a hierarchical SD, centred (PyMC's own)
    or non-centred (offsets times the SD, built through Bambi's `dist` hook): every draw
    sums to zero, and each intercept divided by its SD is Normal(0, sqrt(1 - 1/J)), the
    deviation of one of J independent standard normals from their mean (a closed form;
    KS test, p > 0.001, 2,000 draws)."""
    import bambi as bmb
    import pymc as pm
    from scipy import stats

    from replication_ladder.models.prior_spec import Prior

    sites = 5
    table = pd.DataFrame({"y": np.zeros(sites * 4), "g": np.repeat(list("abcde"), 4)})
    spec = {"dist": "ZeroSumNormal", "sigma": {"dist": "HalfNormal", "sigma": 1}}
    if not noncentered:
        spec["noncentered"] = False
    model = bmb.Model("y ~ (1|g)", table, priors={"1|g": Prior(spec).bambi()})
    model.build()
    pymc_model = model.backend.model
    offset = "1|g_offset" in pymc_model.named_vars
    assert offset == noncentered
    intercepts, sd = pm.draw(
        [pymc_model["1|g"], pymc_model["1|g_sigma"]], draws=2000, random_seed=4
    )
    assert intercepts.shape == (2000, sites)
    np.testing.assert_allclose(intercepts.sum(axis=1), 0, atol=1e-9)
    standardised = (intercepts / sd[:, None]).ravel()
    p_value = stats.kstest(standardised, stats.norm(0, np.sqrt(1 - 1 / sites)).cdf).pvalue
    print(f"margin: KS p = {p_value:.3f} (> 0.001)")
    assert p_value > 0.001


@pytest.mark.parametrize(
    ("family", "bounds", "intercept", "treatment", "auxiliary"),
    [
        # Identity: the rating's own range, 0 to 9.
        ("gaussian", (0, 9), (4.5, 2.2), 1.1, {"sigma": {"dist": "HalfNormal", "sigma": 2.2}}),
        # Log link: a time from 0.2 to 30 s is log 0.2 to log 30 (span 5.01).
        (
            "lognormal",
            (0.2, 30),
            (0.896, 1.3),
            0.63,
            {"sigma": {"dist": "HalfNormal", "sigma": 1.3}},
        ),
        # A count from 0 to 40: log(0.5) to log(40.5) (span 4.39).
        (
            "negativebinomial",
            (0, 40),
            (1.5, 1.1),
            0.55,
            {"alpha": {"dist": "Gamma", "alpha": 2.0, "beta": 0.2}},
        ),
        # Logit: +-4 whatever the data (span 8).
        ("bernoulli", None, (0.0, 2.0), 1.0, {}),
    ],
)
def test_each_family_states_its_priors_on_its_linear_predictors_range(
    family, bounds, intercept, treatment, auxiliary
):
    """The rule written out: the family's range on its link's scale (span s), the
    Intercept Normal(midpoint, s/4), the treatment Normal(0, s/8), its own parameters'."""
    priors = outcome_scale_priors(bounds, {"pen": None}, treatment="pen", family=family)
    assert priors["Intercept"]["mu"] == pytest.approx(intercept[0], abs=0.01)
    assert priors["Intercept"]["sigma"] == pytest.approx(intercept[1], abs=0.01)
    assert priors["pen"]["sigma"] == pytest.approx(treatment, abs=0.01)
    assert {k: v for k, v in priors.items() if k not in ("Intercept", "pen")} == auxiliary


def test_an_ordinal_rungs_thresholds_are_where_equal_categories_put_them():
    """K = 5 categories: logit(k/5) for k = 1..4, sorted (the RRR's nine by hand)."""
    priors = outcome_scale_priors(None, {}, family="cumulative", levels=5)
    assert "Intercept" not in priors
    assert priors["threshold"] == {
        "dist": "Normal",
        "mu": [-1.39, -0.41, 0.41, 1.39],
        "sigma": 1,
        "transform": "ordered",
    }


def rung_config(family: str, formula: str, **outcome) -> dict:
    from conftest import config_copy

    config = config_copy()
    config["datasets"] = {
        "mine": {
            "source": {"path": "data/mine.csv"},
            "columns": {"y": "number", "x": "binary", "lab": "category"},
            "outcome": outcome,
            "models": {"one": {"formula": formula, "family": family}},
        }
    }
    config["default_datasets"] = False
    config["sbc"]["datasets"] = []
    return config


def test_a_rung_with_no_prior_and_no_rule_is_refused_naming_its_terms():
    """A family the registry has no rule for, or a gaussian with no range: every term
    it would have left to Bambi's data-scaled defaults is named."""
    from replication_ladder.base.errors import ConfigError

    with pytest.raises(ConfigError, match=r"models.one.priors: no prior for Intercept, alpha, x"):
        Ladder(rung_config("gamma", "y ~ x"))
    with pytest.raises(ConfigError, match=r"no prior for Intercept, sigma, x: a gaussian rung"):
        Ladder(rung_config("gaussian", "y ~ x"))
    Ladder(rung_config("gaussian", "y ~ x", range=[0, 5]))  # the rule applies


def test_an_outcome_kind_and_a_family_that_disagree_are_refused_naming_both():
    from replication_ladder.base.errors import ConfigError

    with pytest.raises(
        ConfigError, match=r"a gaussian rung cannot model the outcome declared a time"
    ):
        Ladder(rung_config("gaussian", "y ~ x", kind="time", range=[0.1, 9]))
    Ladder(rung_config("lognormal", "y ~ x", kind="time", range=[0.1, 9]))


def test_a_new_family_is_one_registry_entry(monkeypatch):
    """Bambi's exgaussian (a reaction time's family), added to the registry alone: a rung
    of it is accepted with no prior stated, and its priors follow its rule."""
    from replication_ladder.models import families
    from replication_ladder.models.outcome_priors import resolved_priors

    entry = families.Family(
        "exgaussian",
        "identity",
        "outcome",
        ("time",),
        lambda bounds: bounds,
        lambda span: {
            "sigma": {"dist": "HalfNormal", "sigma": span / 4},
            "nu": {"dist": "HalfNormal", "sigma": span / 4},
        },
    )
    monkeypatch.setitem(families.FAMILIES, "exgaussian", entry)
    config = rung_config("exgaussian", "y ~ x", kind="time", range=[0, 2])
    spec = Ladder(config).model_spec("mine", "one")
    priors = resolved_priors(spec, pd.DataFrame({"x": [0, 1]}), ["Intercept", "x"])
    assert priors["nu"] == {"dist": "HalfNormal", "sigma": 0.5}
    assert priors["Intercept"] == {"dist": "Normal", "mu": 1.0, "sigma": 0.5}
