"""Raw PyMC models and predictions on new rows with credible intervals."""

import json
import os

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from scipy import stats

from replication_ladder import models
from replication_ladder.config import Ladder
from replication_ladder.errors import ConfigError, DataError
from replication_ladder.predict import new_rows

from conftest import PROJECT, pipeline_config, snakemake

CONFIG = yaml.safe_load((PROJECT / "config" / "config.yaml").read_text())
LADDER = Ladder(CONFIG)
HELD_OUT = {
    "linear": ["linear"],
    "categorical": ["default_priors", "custom_prior"],
    "measurement_error": ["measurement_error", "ignores_error"],
}


@pytest.mark.workflow
@pytest.mark.parametrize("dataset", list(HELD_OUT))
def test_prediction_intervals_cover_held_out_rows_about_95_percent(pipeline, dataset):
    """The share of held-out true values inside their 95% interval for a new observation
    must be consistent with 95%: the count lies in the central 99.9% of Binomial(n, 0.95)
    (50 rows: 42 to 50; 100 rows: 88 to 99). A sharper check would fail by chance."""
    for model in HELD_OUT[dataset]:
        table = pd.read_parquet(pipeline / f"results/{dataset}/{model}/predictions.parquet")
        n, covered = len(table), int(table["covered"].sum())
        low, high = stats.binom.ppf([0.0005, 0.9995], n, 0.95)
        assert low <= covered <= high, f"{dataset}/{model}: {covered} of {n} covered"
        print(f"{dataset}/{model}: {covered} of {n} held-out values covered")
        assert (table["mean_ci_low"] <= table["mean"]).all()
        assert (table["mean"] <= table["mean_ci_high"]).all()
        # A new observation is more uncertain than its expected value.
        assert (
            (table["obs_ci_high"] - table["obs_ci_low"])
            >= (table["mean_ci_high"] - table["mean_ci_low"])
        ).all()


@pytest.mark.workflow
def test_the_measurement_error_model_goes_through_the_same_machinery(pipeline):
    fit_dir = pipeline / "results/measurement_error/measurement_error"
    tree = xr.open_datatree(fit_dir / "posterior.nc")
    assert set(tree.children) == {"posterior", "sample_stats", "log_likelihood", "observed_data"}
    assert set(tree["posterior"].data_vars) == {"m", "b", "sigma"}  # no per-row mu
    assert tree["log_likelihood"]["share"].shape[-1] == 200
    summary = pd.read_parquet(fit_dir / "summary.parquet")
    assert list(summary.index) == ["m[x1]", "m[x2]", "m[x3]", "m[x4]", "b", "sigma"]
    priors = json.loads((fit_dir / "priors.json").read_text())
    assert priors["sigma"] == {"dist": "HalfNormal", "args": "0, 1"}
    assert "share ~ Normal(mu, f(y_err, sigma))" in (fit_dir / "priors.txt").read_text()
    diagnostics = json.loads((fit_dir / "diagnostics.json").read_text())
    assert diagnostics["kind"] == "pymc" and diagnostics["sampler"] == "nutpie"
    loo = pd.read_parquet(pipeline / "results/measurement_error/loo.parquet")
    assert set(loo.index) == {"measurement_error", "ignores_error"}
    # Modelling the known errors predicts far better than one noise level for all rows.
    assert loo.index[0] == "measurement_error" and loo.loc["ignores_error", "elpd_diff"] < -10
    recovery = pd.read_parquet(pipeline / "results/measurement_error/recovery.parquet")
    assert set(recovery["model"]) == {"measurement_error"}


@pytest.mark.workflow
def test_logit_predictions_on_a_grid(pipeline):
    for model in ("default_priors", "wide_priors"):
        table = pd.read_parquet(pipeline / f"results/logit/{model}/predictions.parquet")
        assert len(table) == 41 * 2 and set(table["div"].astype(str)) == {"0", "1"}
        assert table["mean"].between(0, 1).all() and "covered" not in table
        for _, part in table.groupby("div", observed=True):
            assert part.sort_values("frac")["mean"].is_monotonic_increasing
    assert (pipeline / "reports/logit/ladder.predictions.png").exists()


@pytest.mark.workflow
def test_predictions_are_reproducible(pipeline, tmp_path, rrr_mirror):
    from test_reports import linked_copy

    copy = linked_copy(pipeline, tmp_path / "run")
    target = "results/measurement_error/measurement_error/predictions.parquet"
    before = (pipeline / target).read_bytes()
    (copy / target).unlink()
    snakemake(
        copy,
        target,
        config=pipeline_config(rrr_mirror),
    )
    assert (copy / target).read_bytes() == before
    assert os.stat(copy / target).st_ino != os.stat(pipeline / target).st_ino


@pytest.fixture(scope="module")
def categorical_data():
    from replication_ladder.datasets import generate

    data = generate(CONFIG["datasets"]["categorical"]["source"]).data
    data["D"] = pd.Categorical(data["D"].astype(str), categories=["0", "1"])
    return data


def write(tmp_path, text: str):
    path = tmp_path / "new.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("X\n0.5\n", r"new\.csv: predictor column 'D' is missing \(the models predict from X, D\)"),
        ("X,D,weight\n0.5,1,3\n", r"new\.csv: column 'weight' is not a predictor of any model"),
        (
            "X,D\n0.5,1\n0.1,2\n",
            r"new\.csv: column 'D' has level '2', which the models never saw \(levels: 0, 1\)",
        ),
        ("X,D\n0.5,1\n,0\n", r"new\.csv: line 3: column 'X' has no value"),
        ("X,D\nabc,1\n", r"new\.csv: line 2: column 'X': 'abc' is not a number"),
    ],
)
def test_bad_new_rows_name_the_column_or_level(tmp_path, categorical_data, text, message):
    spec = LADDER.new_rows_spec("categorical")
    spec["predict"] = {"file": "new.csv"}
    with pytest.raises(DataError, match=message):
        new_rows(spec, categorical_data, write(tmp_path, text))


def test_new_rows_from_a_file(tmp_path, categorical_data):
    spec = LADDER.new_rows_spec("categorical")
    spec["predict"] = {"file": "new.csv"}
    rows = new_rows(spec, categorical_data, write(tmp_path, "D,X\n1,0.5\n0.0,-1\n"))
    assert list(rows.columns) == ["X", "D"] and list(rows["D"]) == ["1", "0"]


@pytest.mark.parametrize(
    ("predict", "message"),
    [
        (
            {"grid": {"frac": {"from": 0, "to": 2, "num": 5}}},
            r"datasets\.logit\.predict\.grid: predictor column 'div' is missing",
        ),
        (
            {"grid": {"frac": [0, 1], "div": [0, 1], "age": [3]}},
            r"datasets\.logit\.predict\.grid: 'age' is not a predictor of any rung",
        ),
        (
            {"holdout": True},
            r"datasets\.logit\.predict\.holdout: datasets\.logit\.source\.params\.holdout must",
        ),
        ({"holdout": True, "grid": {"frac": [1]}}, r"config key datasets\.logit\.predict"),
    ],
)
def test_bad_predict_config_is_named(predict, message):
    config = yaml.safe_load((PROJECT / "config" / "config.yaml").read_text())
    config["datasets"]["logit"]["predict"] = predict
    with pytest.raises(ConfigError, match=message):
        Ladder(config)


def test_pymc_log_likelihood_equals_pymcs_own():
    """The vectorised log-likelihood against pm.compute_log_likelihood, for the
    hand-written measurement-error model."""
    import pymc as pm

    from replication_ladder.datasets import generate

    data = generate(CONFIG["datasets"]["measurement_error"]["source"]).data
    spec = LADDER.model_spec("measurement_error", "measurement_error")
    spec["sampling"] = {**spec["sampling"], "draws": 50, "tune": 50, "chains": 2}
    built = models.build(spec, data)
    idata = built.sample(spec["sampling"], seed=3, cores=2)
    built.add_log_likelihood(idata)
    ours = idata["log_likelihood"]["share"].values
    theirs = pm.compute_log_likelihood(
        idata, model=built.pymc_model, extend_inferencedata=False, progressbar=False
    )
    np.testing.assert_allclose(ours, theirs["share"].values, rtol=0, atol=1e-10)
