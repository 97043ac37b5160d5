"""Synthetic generators: deterministic from their seed, with the truth they claim."""

import numpy as np
import pandas as pd
import pytest
import yaml

from replication_ladder.data.synthetic import GENERATORS, generate

from conftest import PROJECT

CONFIG = yaml.safe_load((PROJECT / "config" / "config.yaml").read_text())
SOURCES = {
    name: spec["source"]
    for name, spec in CONFIG["datasets"].items()
    if "generator" in spec["source"]
}


def test_holdout_rows_are_drawn_alike_and_kept_apart():
    source = SOURCES["linear"]
    generated = generate(source)
    assert len(generated.data) == source["params"]["n"]
    assert len(generated.holdout) == source["params"]["holdout"]
    assert list(generated.holdout.columns) == list(generated.data.columns)
    without = generate({**source, "params": {**source["params"], "holdout": 0}})
    assert len(without.holdout) == 0


def test_every_generator_has_a_default_dataset():
    assert {source["generator"] for source in SOURCES.values()} == set(GENERATORS)


@pytest.mark.parametrize("name", list(SOURCES))
def test_same_seed_same_data_other_seed_other_data(name):
    source = SOURCES[name]
    first, second = generate(source), generate(source)
    assert first.data.equals(second.data) and first.truth == second.truth
    other = generate({**source, "seed": source["seed"] + 1})
    assert not first.data.equals(other.data)


def _least_squares(design, y):
    return np.linalg.lstsq(design, y, rcond=None)[0]


def test_linear_and_categorical_data_follow_their_truth():
    for name, columns in (("linear", ["X"]), ("categorical", ["X", "D"])):
        generated = generate(SOURCES[name])
        data = generated.data
        design = np.column_stack([np.ones(len(data)), *(data[c] for c in columns)])
        estimate = _least_squares(design, data["Y"].to_numpy())
        truth = [generated.truth["Intercept"], generated.truth["X"]]
        if name == "categorical":
            truth.append(generated.truth["C(D)[1]"])
        np.testing.assert_allclose(estimate, truth, atol=0.6)


def test_multisite_is_shaped_like_the_rrr():
    generated = generate(SOURCES["multisite"])
    data = generated.data
    assert data["study"].nunique() == 17
    per_site = data.groupby("study")["uid"].nunique()
    assert 70 < per_site.mean() < 130
    assert (data.groupby("uid").size() == 4).all()
    assert (data.groupby("uid")["stimulus"].nunique() == 4).all()  # each rated every stimulus
    assert (data.groupby("uid")["condition"].nunique() == 1).all()  # between participants
    assert set(data.columns) >= {"condition", "age", "gender", "study", "stimulus", "value"}
    for key in (
        "condition",
        "1|study_sigma",
        "condition|study_sigma",
        "1|uid_sigma",
        "C(stimulus)[s2]",
        "1|study[16]",
    ):
        assert key in generated.truth
    # The rungs' site intercepts sum to zero: so do the true ones, the Intercept holding
    # their average (each site's mean is Intercept + its own, as drawn).
    intercepts = [generated.truth[f"1|study[{k}]"] for k in range(17)]
    assert abs(sum(intercepts)) < 1e-9 and np.std(intercepts) > 0.1


def test_participant_effects_come_from_their_own_stream():
    """Without participant and stimulus effects, the data are what they were before the
    generator gained them: the other draws are untouched."""
    params = {
        **SOURCES["multisite"]["params"],
        "participant_sd": 0.0,
        "stimulus_effects": [0.0] * 4,
    }
    plain = generate({**SOURCES["multisite"], "params": params}).data
    full = generate(SOURCES["multisite"]).data
    pd.testing.assert_frame_equal(plain.drop(columns="value"), full.drop(columns="value"))
    assert not np.allclose(plain["value"], full["value"])


def test_multisite_participant_and_stimulus_effects_are_what_the_truth_says():
    """Estimated back from the data: the participant SD from the variance of participant
    means within cells, the stimulus effects from stimulus means (within 4 standard
    errors of their estimators)."""
    generated = generate(SOURCES["multisite"])
    data, truth = generated.data, generated.truth
    stimulus_means = data.groupby("stimulus")["value"].mean()
    for level in ("s2", "s3", "s4"):
        difference = stimulus_means[level] - stimulus_means["s1"]
        se = truth["sigma"] * np.sqrt(2 / len(data) * 4)
        assert abs(difference - truth[f"C(stimulus)[{level}]"]) < 4 * se
    # Between-participant variance of participant means = tau^2 + sigma^2 / 4 + (fixed
    # parts, removed by centring within site and condition).
    means = data.groupby(["study", "condition", "uid"])["value"].mean()
    centred = means - means.groupby(level=["study", "condition"]).transform("mean")
    tau2 = centred.var() - truth["sigma"] ** 2 / 4
    assert abs(np.sqrt(max(tau2, 0)) - truth["1|uid_sigma"]) < 0.15


def test_measurement_error_standard_errors_come_from_messages():
    generated = generate(SOURCES["measurement_error"])
    # Standardised over every generated row, the held-out ones included.
    data = pd.concat([generated.data, generated.holdout], ignore_index=True)
    np.testing.assert_allclose(data["y_err"], 1 / np.sqrt(data["messages"]))
    features = data[["x1", "x2", "x3", "x4"]]
    np.testing.assert_allclose(features.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(features.std(ddof=0), 1)
    # Standardised residuals against the true model look like N(0, 1).
    m = np.array([generated.truth[f"m[x{i}]"] for i in range(1, 5)])
    z = (data["share"] - features @ m - generated.truth["b"]) / (
        generated.truth["sigma"] * data["y_err"]
    )
    assert abs(z.mean()) < 0.25 and 0.8 < z.std() < 1.2
