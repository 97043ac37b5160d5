"""The verdict: which rung it rests on, and the sentence that says how sure it is."""

import numpy as np
import pytest

from replication_ladder.config import Ladder
from replication_ladder.verdict import replication

from conftest import config_copy

SPEC = Ladder(config_copy()).replication_spec("rrr")


def test_the_verdict_rests_on_the_best_rung_that_respects_the_design():
    ranking = ["random_intercept", "participant", "random_slope", "fixed"]
    model, because = replication.choose_verdict_model(SPEC, ranking, ranking)
    assert model == "participant" and "every level of the design" in because
    model, _ = replication.choose_verdict_model(
        SPEC, ["fixed", "random_slope"], ["fixed", "random_slope"]
    )
    assert model == "fixed"
    named = {**SPEC, "verdict_model": "meta_analysis"}
    assert replication.choose_verdict_model(named, ranking, ranking)[0] == "meta_analysis"


def effect(mean, low, high):
    return {"mean": mean, "ci_low": low, "ci_high": high}


def figures(bf01=13.0, bf0r=34.0, ruled_out=True):
    curve = [{"scale": s, "bf01": b} for s, b in ((0.1, 1.6), (1, bf01), (10, 130.0))]
    return {
        "test_prior": {"bf01": bf01, "prior": {"dist": "Normal", "mu": 0, "sigma": 0.82}},
        "sensitivity": {"curve": curve},
        "replication_bf": {"bf0r": bf0r, "two_sided": {"bf01": bf0r}},
        "small_telescopes": {"effect_d33": 0.69, "ruled_out": ruled_out},
        "equivalence": {"sesoi": 0.69, "p_inside": 1.0},
    }


@pytest.mark.parametrize(
    ("estimate", "bf01", "outcome"),
    [
        (effect(0.0, -0.17, 0.17), 13.0, "does not replicate (evidence against"),
        (effect(0.8, 0.6, 1.0), 0.01, "replicates (evidence for the original's effect)"),
        (effect(0.3, 0.1, 0.5), 0.2, "replicates in direction but not in size (evidence for"),
        (effect(-0.4, -0.6, -0.2), 0.1, "is reversed (evidence against"),
        # An interval holding both zero and the original says nothing either way.
        (effect(0.4, -0.1, 0.9), 0.5, "is inconclusive (the interval holds both zero and"),
        # The interval excludes the original but the Bayes factor is in the middle band.
        (effect(0.0, -0.17, 0.17), 1.5, "is inconclusive (the interval holds zero but the"),
        (effect(0.8, 0.6, 1.0), 13.0, "is inconclusive (the interval excludes zero but the"),
    ],
)
def test_the_verdict_sentence(estimate, bf01, outcome):
    """Three-way wording from both the interval and the test prior's Bayes factor: the
    Wagenmakers et al. (2016) reading of the RRR, 'does not replicate', only where both
    say so."""
    spec = {**SPEC, "labels": ["lips", "teeth"]}
    sentence = replication.verdict_sentence(estimate, "participant", spec, figures(bf01=bf01))
    assert sentence.startswith(f"The original effect (0.82) {outcome}")
    assert "the pooled effect of condition (teeth minus lips) is" in sentence
    assert "in the participant model" in sentence
    low = min(bf01, 1.6)
    assert (
        f"under the test prior Normal(mu=0, sigma=0.82), BF01 = {bf01:.3g} (from {low:.3g} to "
        "130 as the prior's scale goes from 0.1x to 10x the original effect)"
    ) in sentence
    assert (
        "the replication Bayes factor favours no effect over the original's effect by 34"
        in sentence
    )
    assert "the small-telescopes effect d33 (0.69) is ruled out" in sentence


def test_an_unreliable_reweighting_is_said_and_not_counted():
    """A test prior the draws do not cover: the sentence gives its Pareto k, effective
    draws and Monte Carlo error, and the verdict does not rest on that BF01."""
    unreliable = figures(bf01=13.0)
    unreliable["test_prior"] |= {
        "reliable": False,
        "pareto_k": 1.3,
        "weights_ess": 12.0,
        "log_bf01_mcse": 0.8,
    }
    sentence = replication.verdict_sentence(effect(0.8, 0.6, 1.0), "participant", SPEC, unreliable)
    assert sentence.startswith("The original effect (0.82) replicates (evidence for")
    assert (
        "BF01 = 13 (unreliable: the rung's draws do not support it; Pareto k 1.30, "
        "12 effective draws, Monte Carlo error of log BF01 0.8)"
    ) in sentence


def test_a_bayes_factor_past_the_draws_reach_is_a_bound_that_counts():
    """Unreliable as a number but far beyond 10^6: stated as the bound, no figure, and
    the wording rests on it (evidence for an effect agrees with an interval off zero)."""
    beyond = figures(bf01=1e-9)
    beyond["sensitivity"]["curve"][1]["bound"] = {"factor": "bf10", "above": 1e6}
    beyond["test_prior"] |= {
        "reliable": False,
        "pareto_k": 1.3,
        "weights_ess": 12.0,
        "log_bf01_mcse": 0.8,
        "bound": {"factor": "bf10", "above": 1e6},
    }
    sentence = replication.verdict_sentence(effect(0.8, 0.6, 1.0), "participant", SPEC, beyond)
    assert sentence.startswith("The original effect (0.82) replicates (evidence for")
    stated = "under the test prior Normal(mu=0, sigma=0.82), BF10 > 10^6 (from < 10^-6 to 130"
    assert stated in sentence
    assert "unreliable" not in sentence and "1e-09" not in sentence


def test_a_directional_hypothesis_is_also_tested_one_sided():
    spec = {**SPEC, "labels": ["lips", "teeth"]}
    with_one_sided = figures() | {"test_prior_one_sided": {"bf01": 25.0, "reliable": True}}
    sentence = replication.verdict_sentence(
        effect(0.0, -0.17, 0.17), "participant", spec, with_one_sided
    )
    assert "one-sided, in the predicted direction, BF01 = 25;" in sentence
    assert replication.one_sided_prior({"dist": "Normal", "mu": 0, "sigma": 1}, "negative") == {
        "dist": "Normal",
        "mu": 0,
        "sigma": 1,
        "truncate": {"upper": 0.0},
    }


def test_only_a_rung_on_the_replications_scale_is_the_verdicts():
    """The ordinal rung's coefficient is a latent logistic variable's: never the verdict's
    where the original and the test prior are in rating points, and refused by name; a
    dataset that states the latent scale takes it, and no other."""
    from replication_ladder.base.errors import ConfigError

    assert SPEC["effect_scales"]["ordinal"] == "latent" and SPEC["scale"] == "outcome"
    ranking = ["ordinal", "participant", "meta_analysis", "fixed"]
    assert replication.choose_verdict_model(SPEC, ranking, ranking)[0] == "participant"
    latent = {**SPEC, "scale": "latent"}
    assert replication.choose_verdict_model(latent, ranking, ranking)[0] == "ordinal"
    config = config_copy()
    config["datasets"]["rrr"]["replication"]["verdict_model"] = "ordinal"
    with pytest.raises(ConfigError, match=r"verdict_model: 'ordinal' is a cumulative rung"):
        Ladder(config)


def test_evidence_for_the_original_is_said_as_such():
    sentence = replication.verdict_sentence(
        effect(0.8, 0.6, 1.0), "participant", SPEC, figures(0.01, bf0r=0.01, ruled_out=False)
    )
    assert (
        "the replication Bayes factor favours the original's effect over no effect by 100"
        in sentence
    )
    assert "d33 (0.69) is not ruled out" in sentence


def test_effect_summary():
    draws = np.random.default_rng(0).normal(0.1, 0.05, 40_000)
    summary = replication.effect_summary(draws, original=0.82, ci_prob=0.95)
    assert summary["ci_low"] == pytest.approx(0.1 - 1.96 * 0.05, abs=0.003)
    assert summary["p_positive"] == pytest.approx(0.977, abs=0.004)
    assert summary["p_at_least_original"] == 0.0
