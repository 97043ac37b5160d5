"""The prior predictive check: outcomes simulated from a rung's priors on the real design,
against the outcome's range; checked against the same prior simulated independently in
numpy, and shown to flag Bambi's data-scaled defaults on the RRR's 0-9 rating."""

import numpy as np
import pandas as pd
import pytest

from replication_ladder.calibration import prior_predictive as pp
from replication_ladder.config import Ladder
from replication_ladder.models.kinds import build_rung

from conftest import config_copy

LADDER = Ladder(config_copy())
RATING = {"low": 0.0, "high": 9.0, "source": "declared (outcome.range)"}


def test_the_range_is_declared_or_the_scales_never_the_datas():
    """Bounds come from outcome.range, or for site effects from the outcome's SD (d = 2);
    never from the data's own spread: rrr_labs' 17 site effects, widened by their span,
    gave [-1.58, 1.37] and a warning that 23% of the simulations lay outside it."""
    assert pp.outcome_bounds([0, 9], False, None) == RATING
    sites = pp.outcome_bounds([0, 9], True, 1.4)
    assert (sites["low"], sites["high"]) == (-9.0, 9.0)  # differences of two ratings
    raw = pp.outcome_bounds(None, True, 1.4)
    assert (raw["low"], raw["high"]) == (-2.8, 2.8)
    standardized = pp.outcome_bounds(None, True, 1.0)
    assert (standardized["low"], standardized["high"]) == (-2.0, 2.0)
    unbounded = pp.outcome_bounds(None, False, None)
    assert unbounded["low"] is None and "no outcome.range" in unbounded["source"]
    outcomes = np.array([[-50.0, 0.0, 4.0, 90.0]])
    result = pp.check("fixed", outcomes, unbounded, max_outside=0.2)
    assert result["share_outside"] is None and not result["warning"]


def test_the_check_counts_what_lies_outside_and_names_the_rung(caplog):
    outcomes = np.array([[-1.0, 0.0, 4.0, 9.0], [9.5, 3.0, 2.0, 1.0]])
    result = pp.check("fixed", outcomes, RATING, max_outside=0.2)
    assert result["share_outside"] == 2 / 8 and result["warning"]
    assert "fixed: 25% of the outcomes simulated from its priors lie outside 0 to 9" in caplog.text
    assert not pp.check("fixed", outcomes, RATING, max_outside=0.25)["warning"]


def numpy_prior_ratings(table: pd.DataFrame, priors: dict, draws: int, seed: int) -> np.ndarray:
    """The fixed rung's prior predictive written out in numpy: Bambi centres the
    predictors, so value = Intercept + sum_j beta_j (x_j - mean_j) + sigma eps."""
    rng = np.random.default_rng(seed)
    columns = ["condition", "age", "gender"]
    x = table[columns].to_numpy(float)
    x = x - x.mean(axis=0)
    intercept = rng.normal(priors["Intercept"]["mu"], priors["Intercept"]["sigma"], draws)
    betas = np.stack([rng.normal(0, priors[c]["sigma"], draws) for c in columns], axis=1)
    residual = priors["sigma"]  # Gamma(alpha, beta): beta is a rate
    sigma = rng.gamma(residual["alpha"], 1 / residual["beta"], draws)
    mean = intercept[:, None] + betas @ x.T
    return mean + sigma[:, None] * rng.normal(size=mean.shape)


def test_the_simulated_ratings_are_those_of_the_stated_priors(rrr_table):
    """The RRR's fixed rung: the share of simulated ratings off the 0-9 scale and their
    median against the same priors simulated in numpy (400 draws against 4,000; the
    share's Monte Carlo error over draws is about 0.01, the tolerance 0.03)."""
    spec = LADDER.model_spec("rrr", "fixed")
    rung = build_rung(spec, rrr_table)
    ours = pp.simulated_outcomes(rung, 400, seed=3)
    theirs = numpy_prior_ratings(rung.data, spec["priors"], 4000, seed=4)
    share = pp.check("fixed", ours, RATING, 0.2)["share_outside"]
    reference = pp.check("fixed", theirs, RATING, 0.2)["share_outside"]
    print(f"margin: share outside {share:.3f} against numpy's {reference:.3f} (within 0.03)")
    assert abs(share - reference) < 0.03
    assert abs(np.median(ours) - np.median(theirs)) < 0.2


def test_bambis_defaults_are_flagged_and_the_stated_priors_are_not(rrr_table):
    """On the 0-9 rating, Bambi's data-scaled defaults (the effect ~ Normal(0, 12)) put
    most simulated ratings off the scale; the priors config/config.yaml states do not."""
    spec = LADDER.model_spec("rrr", "fixed")
    stated = pp.check(
        "fixed", pp.simulated_outcomes(build_rung(spec, rrr_table), 100, 1), RATING, 0.2
    )
    defaults = pp.check(
        "fixed",
        pp.simulated_outcomes(build_rung({**spec, "priors": "bambi"}, rrr_table), 100, 1),
        RATING,
        0.2,
    )
    print(f"margin: stated {stated['share_outside']:.2f}, defaults {defaults['share_outside']:.2f}")
    assert defaults["warning"] and defaults["share_outside"] > 0.5
    assert not stated["warning"] and stated["share_outside"] < 0.1


@pytest.mark.parametrize("dataset", ["rrr", "multisite"])
def test_every_shipped_rung_states_every_prior(dataset):
    """No shipped rung of the replication datasets runs on Bambi's data-scaled defaults:
    every term of its formula and every family parameter has a stated prior."""
    from replication_ladder.models.families import FAMILY_PARAMETERS
    from replication_ladder.models.formulas import formula_terms

    for model in LADDER.models(dataset):
        entry = LADDER.rung(dataset, model)
        if entry["kind"] == "pymc":
            builder = LADDER.builder(dataset, model)
            names = builder.parameters(LADDER.model_spec(dataset, model))
            assert set(names) <= set(entry["priors"]), (dataset, model)
            continue
        terms = set(formula_terms(entry["formula"], model)[1])
        family = entry["family"]
        needed = terms | set(FAMILY_PARAMETERS[family])
        if family == "cumulative":
            needed.discard("Intercept")  # Bambi omits it: the thresholds place the scale
        assert needed <= set(entry["priors"]), (dataset, model, needed - set(entry["priors"]))
