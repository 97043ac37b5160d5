"""The verdict: which rung it rests on, and the sentence that says how sure it is."""

import numpy as np
import pytest

from replication_ladder import replication
from replication_ladder.config import Ladder

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
        "replication_bf": {"bf0r": bf0r},
        "small_telescopes": {"effect_d33": 0.69, "ruled_out": ruled_out},
        "equivalence": {"sesoi": 0.69, "p_inside": 1.0},
    }


@pytest.mark.parametrize(
    ("estimate", "outcome"),
    [
        (effect(0.0, -0.17, 0.17), "does not replicate"),
        (effect(0.8, 0.6, 1.0), "replicates"),
        (effect(0.3, 0.1, 0.5), "replicates in direction but not in size"),
        (effect(-0.4, -0.6, -0.2), "is reversed"),
    ],
)
def test_the_verdict_sentence(estimate, outcome):
    spec = {**SPEC, "labels": ["lips", "teeth"]}
    sentence = replication.verdict_sentence(estimate, "participant", spec, figures())
    opening = f"The original effect (0.82) {outcome}: the pooled effect of condition"
    assert sentence.startswith(f"{opening} (teeth minus lips) is")
    assert "in the participant model" in sentence
    assert (
        "under the test prior Normal(mu=0, sigma=0.82), BF01 = 13 (from 1.6 to 130 as the prior's "
        "scale goes from 0.1x to 10x the original effect)"
    ) in sentence
    assert (
        "the replication Bayes factor favours no effect over the original's effect by 34"
        in sentence
    )
    assert "the small-telescopes effect d33 (0.69) is ruled out" in sentence


def test_evidence_for_the_original_is_said_as_such():
    sentence = replication.verdict_sentence(
        effect(0.8, 0.6, 1.0), "participant", SPEC, figures(bf0r=0.01, ruled_out=False)
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
