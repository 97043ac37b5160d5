"""The verdict's operating characteristics at an observed design (design_analysis): each
simulated replication judged as the verdict is, by the exact two-stage computation."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from replication_ladder.verdict import design_analysis as da
from replication_ladder.verdict.equivalence import d33

ORIGINAL = {"effect": 0.6, "t": 2.0, "n1": 40, "n2": 40}
PRIORS = {
    "effect": {"dist": "Normal", "mu": 0.0, "sigma": 1.0},
    "tau": {"dist": "HalfNormal", "sigma": 0.3},
}


def spec(simulations: int = 150, **changes) -> dict:
    return {
        "original": ORIGINAL,
        "test_prior": {"dist": "Normal", "mu": 0.0, "sigma": 0.6},
        "ci_prob": 0.95,
        "simulations": simulations,
        "seed": 7,
        **changes,
    }


def sites(se: float, count: int = 12) -> pd.DataFrame:
    """Site estimates with no spread beyond their SEs (REML tau 0): effects alternating
    +-se/2 around zero."""
    effect = np.resize([se / 2, -se / 2], count)
    return pd.DataFrame({"effect": effect, "se": np.full(count, se)})


def test_the_true_effects_are_zero_the_original_and_d33():
    """d33 on the outcome's scale: the standardized effect with 33% power for 40 and 40,
    times the original's SD (its SE, 0.3, over sqrt(1/40 + 1/40))."""
    effects = da.true_effects(ORIGINAL)
    sd = (0.6 / 2.0) / math.sqrt(2 / 40)
    assert effects == pytest.approx({"zero": 0.0, "original": 0.6, "d33": d33(40, 40) * sd})
    assert "d33" not in da.true_effects({"effect": 0.6})  # no group sizes, no d33


def test_a_precise_design_gives_the_true_answer_and_a_vague_one_none():
    """Twelve sites with SE 0.05 (a pooled SE of 0.014): the verdict follows the truth in
    nearly every replication; with SE 30 (the prior is the posterior) the interval holds
    both zero and the original and every replication is inconclusive. The median log
    BF10 at zero against a fixed effect's closed form at the median replication (|z| the
    median of a half-normal): log N(y; 0, sqrt(s^2 + 0.6^2)) - log N(y; 0, s), within 0.2
    (tau's prior, which the random-effects model integrates, moves it a little)."""
    precise = da.operating_characteristics(sites(0.05), PRIORS, spec())
    assert precise["tau"] == 0.0 and precise["sites"] == 12
    scenarios = precise["scenarios"]
    assert scenarios["zero"]["grouped"]["does not replicate"] > 0.95
    assert scenarios["original"]["grouped"]["replicates"] > 0.99
    assert scenarios["original"]["verdicts"]["replicates"] > 0.95
    pooled = 0.05 / math.sqrt(12)
    y = stats.halfnorm.median() * pooled
    fixed = stats.norm.logpdf(y, 0, math.hypot(pooled, 0.6)) - stats.norm.logpdf(y, 0, pooled)
    median = scenarios["zero"]["log_bf10_quantiles"]["q50"]
    print(f"margin: median log BF10 at zero {median:.3f}, a fixed effect's {fixed:.3f}")
    assert median == pytest.approx(fixed, abs=0.2)
    vague = da.operating_characteristics(sites(30.0), PRIORS, spec(simulations=40))
    assert all(s["grouped"]["inconclusive"] == 1.0 for s in vague["scenarios"].values())


def test_the_same_seed_gives_the_same_figures():
    first = da.operating_characteristics(sites(0.3), PRIORS, spec(simulations=30))
    again = da.operating_characteristics(sites(0.3), PRIORS, spec(simulations=30))
    assert first == again
    shares = first["scenarios"]["d33"]["verdicts"]
    assert sum(shares.values()) == pytest.approx(1.0)
