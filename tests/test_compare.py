"""LOO comparison, high Pareto k remedies, recovery, the verdict and leave-one-site-out."""

import json
import math

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

from replication_ladder import compare, datasets, fit, recovery, replication, validation
from replication_ladder.config import Ladder
from replication_ladder.errors import DataError

from conftest import LOSO_SITES, PROJECT, snakemake

CONFIG = yaml.safe_load((PROJECT / "config" / "config.yaml").read_text())
LADDER = Ladder(CONFIG)


def fit_small(tmp_path, dataset: str, model: str, data: pd.DataFrame, **sampling) -> dict:
    """A real fit of a configured model to `data`, written like the workflow writes it."""
    spec = LADDER.model_spec(dataset, model)
    spec["sampling"].update({"draws": 500, "tune": 500, "chains": 2, **sampling})
    data_path = tmp_path / f"{model}.parquet"
    data.to_parquet(data_path)
    outputs = {key: tmp_path / model / name for key, name in fit.FILE_NAMES.items()}
    fit.fit_model(spec, data_path, outputs, cores=2, thresholds=CONFIG["convergence"], strict=False)
    return {"spec": spec, "posterior": outputs["posterior"], "data": data}


@pytest.fixture(scope="module")
def outlier_fit(tmp_path_factory):
    """A linear regression with one gross outlier: its Pareto k is far above 0.7."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=30)
    y = 1 + 2.5 * x + rng.normal(0, 1.5, 30)
    x[0], y[0] = 3.0, 40.0
    return fit_small(
        tmp_path_factory.mktemp("outlier"), "linear", "linear", pd.DataFrame({"X": x, "Y": y})
    )


def score(fitted: dict, **settings):
    return compare.score_model(
        fitted["posterior"],
        spec=fitted["spec"],
        data=fitted["data"],
        settings={**CONFIG["loo"], **settings},
        cores=2,
    )


def test_high_pareto_k_is_counted_even_without_a_remedy(outlier_fit):
    scalars, pointwise = score(outlier_fit, remedy="none")
    assert scalars["n_high_pareto_k"] == scalars["n_high_pareto_k_after"] == 1
    assert scalars["remedy"] == "psis" and scalars["warning"]
    assert pointwise["pareto_k"].idxmax() == 0 and pointwise.loc[0, "pareto_k"] > 1


def test_moment_matching_brings_k_down(outlier_fit):
    psis, _ = score(outlier_fit, remedy="none")
    scalars, pointwise = score(outlier_fit, remedy="moment_match")
    assert scalars["remedy"] == "moment_match" and scalars["n_high_pareto_k"] == 1
    assert scalars["n_high_pareto_k_after"] == 0
    assert pointwise.loc[0, "pareto_k"] < scalars["pareto_k_threshold"]
    assert pointwise.loc[0, "pareto_k_psis"] > 1
    assert scalars["elpd"] != psis["elpd"]


def test_reloo_refits_without_the_offending_row(outlier_fit):
    _, psis_pointwise = score(outlier_fit, remedy="none")
    scalars, pointwise = score(outlier_fit, remedy="reloo")
    assert scalars["remedy"] == "reloo" and scalars["n_high_pareto_k_after"] == 0
    # The exact LOO of the outlier, refitted without it, is far worse than PSIS's guess;
    # the other rows keep their PSIS values.
    assert pointwise.loc[0, "elpd_i"] < psis_pointwise.loc[0, "elpd_i"] - 10
    pd.testing.assert_series_equal(pointwise["elpd_i"][1:], psis_pointwise["elpd_i"][1:])


def test_too_many_for_reloo_falls_back_to_kfold(outlier_fit):
    scalars, pointwise = score(outlier_fit, remedy="reloo", max_reloo=0, kfold_folds=3)
    assert scalars["remedy"] == "kfold" and scalars["kind"] == "loo_kfold"
    assert pointwise["pareto_k"].isna().all()
    assert np.isfinite(pointwise["elpd_i"]).all()


def test_loo_table_matches_az_compare_on_the_same_posteriors(pipeline):
    fully_psis = 0
    for dataset in ("rrr", "multisite", "categorical", "logit"):
        models = LADDER.models(dataset)
        table = pd.read_parquet(pipeline / f"results/{dataset}/loo.parquet")
        trees = {
            m: xr.open_datatree(pipeline / f"results/{dataset}/{m}/posterior.nc") for m in models
        }
        direct = az.compare(trees, round_to="none")
        assert set(compare.LOO_COLUMNS) <= set(table.columns)
        assert (table["rows"] == table["rows"].iloc[0]).all()
        for model in models:
            pointwise = pd.read_parquet(
                pipeline / f"results/{dataset}/{model}/loo_pointwise.parquet"
            )
            assert len(pointwise) == table.loc[model, "rows"]
            np.testing.assert_allclose(pointwise["elpd_i"].sum(), table.loc[model, "elpd"])
            psis = az.loo(trees[model], pointwise=True)
            # Our vectorised PSIS against ArviZ's: equal up to rounding (k can be ~0).
            close = {"rtol": 1e-12, "atol": 1e-12}
            np.testing.assert_allclose(pointwise["pareto_k_psis"], psis.pareto_k.values, **close)
            if table.loc[model, "remedy"] == "psis":
                np.testing.assert_allclose(pointwise["elpd_i"], psis.elpd_i.values, **close)
        if (table["remedy"] == "psis").all():  # then the whole table is az.compare's
            fully_psis += 1
            assert list(table.index) == list(direct.index)
            for column in ("rank", "elpd", "se", "p", "elpd_diff", "dse", "weight"):
                np.testing.assert_allclose(
                    table[column],
                    direct[column],
                    rtol=1e-9,
                    atol=1e-12,
                    err_msg=f"{dataset}: {column}",
                )
    assert fully_psis >= 2


def test_models_fitted_to_different_rows_are_not_compared():
    scores = {
        "fixed": {"observed_sha256": "a", "n_data_points": 6907},
        "with_self_perf": {"observed_sha256": "b", "n_data_points": 6539},
    }
    with pytest.raises(
        DataError,
        match=r"results/rrr/loo\.parquet: cannot compare models "
        r"fitted to different rows: fixed \(6907 rows\), "
        r"with_self_perf \(6539 rows\)",
    ):
        compare.compare_ladder(scores, {}, where="results/rrr/loo.parquet")


def test_recovery_table_agrees_with_the_truth_files(pipeline):
    table = pd.read_parquet(pipeline / "results/recovery.parquet")
    assert set(table["dataset"]) >= {"multisite", "linear", "categorical", "logit"}
    for dataset, part in table.groupby("dataset"):
        truth = json.loads((pipeline / f"data/raw/{dataset}.truth.json").read_text())
        for _, row in part.iterrows():
            assert row["true_value"] == truth["parameters"][row["parameter"]]
            summary = pd.read_parquet(
                pipeline / f"results/{dataset}/{row['model']}/summary.parquet"
            ).loc[row["parameter"]]
            assert (row["mean"], row["ci_low"], row["ci_high"]) == (
                summary["mean"],
                summary["ci_low"],
                summary["ci_high"],
            )
            assert row["covered"] == (row["ci_low"] <= row["true_value"] <= row["ci_high"])
    # Only the random-slope rung estimates every parameter of the multisite generator.
    assert set(table[table["dataset"] == "multisite"]["model"]) == {"random_slope"}


def test_multisite_recovers_site_sds_and_pooled_effect_with_default_settings(tmp_path):
    """The default dataset and sampler settings (4 chains x 1000 draws after 1000 tuning
    steps), through the workflow's own generation and validation."""
    source = LADDER.dataset("multisite")["source"]
    raw, truth_path = tmp_path / "multisite.csv", tmp_path / "multisite.truth.json"
    datasets.write_synthetic(source, raw, truth_path, tmp_path / "holdout.csv")
    data_path = tmp_path / "multisite.parquet"
    validation.write_processed(
        raw, LADDER.data_spec("multisite"), data_path, tmp_path / "multisite.json"
    )
    spec = LADDER.model_spec("multisite", "random_slope")
    assert spec["sampling"] == CONFIG["sampling"]
    outputs = {key: tmp_path / name for key, name in fit.FILE_NAMES.items()}
    diagnostics = fit.fit_model(
        spec, data_path, outputs, cores=2, thresholds=CONFIG["convergence"], strict=False
    )
    assert diagnostics["divergences"] == 0
    truth = json.loads(truth_path.read_text())["parameters"]
    table = recovery.recovery_table(
        truth, {"random_slope": pd.read_parquet(outputs["summary"])}, 0.95
    ).set_index("parameter")
    for parameter in ("condition", "1|study_sigma", "condition|study_sigma", "sigma"):
        assert table.loc[parameter, "covered"], table.loc[parameter]


def test_savage_dickey_matches_the_conjugate_normal_closed_form():
    """y_i ~ N(theta, 1), theta ~ N(0, 1): the posterior is normal, BF01 is a ratio of
    normal densities at 0. The posterior is sampled with nutpie, not drawn exactly."""
    import pymc as pm
    from scipy import stats

    y = np.random.default_rng(11).normal(0.35, 1.0, 25)
    with pm.Model() as model:
        theta = pm.Normal("theta", 0, 1)
        pm.Normal("y", theta, 1, observed=y)
        idata = pm.sample(
            draws=4000,
            tune=1000,
            chains=4,
            nuts_sampler="nutpie",
            random_seed=5,
            progressbar=False,
            model=model,
        )
    post_var = 1 / (1 + len(y))
    post_mean = post_var * y.sum()
    exact = stats.norm(post_mean, math.sqrt(post_var)).logpdf(0) - stats.norm(0, 1).logpdf(0)
    estimate = replication.savage_dickey_log_bf01(
        idata.posterior["theta"].values, {"dist": "Normal", "mu": 0.0, "sigma": 1.0}
    )
    assert abs(estimate - exact) < 0.05, (estimate, exact)  # BF01 within 5%


@pytest.mark.parametrize(
    ("effect", "expected"),
    [
        (
            {"mean": -0.02, "ci_low": -0.14, "ci_high": 0.10, "bf01": 12.0},
            "The original effect (0.82) does not replicate: the pooled effect of condition is "
            "-0.02 (95% CI -0.14 to 0.10) in the random_slope model, and BF01 = 12 favours no "
            "effect.",
        ),
        (
            {"mean": 0.7, "ci_low": 0.5, "ci_high": 0.9, "bf01": 0.001},
            "The original effect (0.82) replicates: the pooled effect of condition is 0.70 "
            "(95% CI 0.50 to 0.90) in the random_slope model, and BF01 = 0.001 favours an "
            "effect.",
        ),
        (
            {"mean": 0.3, "ci_low": 0.1, "ci_high": 0.5, "bf01": 0.5},
            "The original effect (0.82) replicates in direction but not in size: the pooled "
            "effect of condition is 0.30 (95% CI 0.10 to 0.50) in the random_slope model, and "
            "BF01 = 0.5 is inconclusive.",
        ),
        (
            {"mean": -0.4, "ci_low": -0.6, "ci_high": -0.2, "bf01": 0.01},
            "The original effect (0.82) is reversed: the pooled effect of condition is -0.40 "
            "(95% CI -0.60 to -0.20) in the random_slope model, and BF01 = 0.01 favours an "
            "effect.",
        ),
    ],
)
def test_verdict_sentence(effect, expected):
    assert replication.verdict_sentence(effect, "random_slope", "condition", 0.82, 0.95) == expected


def test_rrr_verdict(pipeline):
    report = json.loads((pipeline / "results/rrr/replication.json").read_text())
    loo = pd.read_parquet(pipeline / "results/rrr/loo.parquet")
    assert report["headline_model"] == loo.index[loo["rank"] == 0][0]
    assert report["verdict"].startswith("The original effect (0.82) does not replicate")
    assert report["published"] == {"estimate": 0.03, "ci_low": -0.11, "ci_high": 0.16}
    for model in ("fixed", "random_intercept", "random_slope"):
        effect = report["models"][model]
        assert effect["ci_low"] < 0 < effect["ci_high"]
        assert effect["p_at_least_original"] < 0.01 and effect["bf01"] > 1
        priors = json.loads((pipeline / f"results/rrr/{model}/priors.json").read_text())
        assert effect["prior"] == priors["condition"]
    slopes = report["models"]["random_slope"]["site_effects"]
    assert len(slopes["sites"]) == 17 and slopes["sd"]["ci_low"] >= 0
    assert report["models"]["fixed"]["site_effects"] is None


def test_leave_one_site_out(pipeline):
    table = pd.read_parquet(pipeline / "results/multisite/loso.parquet")
    sites = pd.read_parquet(pipeline / "results/multisite/loso_sites.parquet")
    assert set(table.index) == {"fixed", "random_intercept", "random_slope"}
    assert (table["sites"] == LOSO_SITES).all() and len(sites) == 3 * LOSO_SITES
    assert table["rank"].tolist() == [0, 1, 2]
    assert table["elpd_loso"].is_monotonic_decreasing
    np.testing.assert_allclose(
        table["elpd_loso"], sites.groupby("model")["elpd_site"].sum()[table.index]
    )
    record = json.loads((pipeline / "data/processed/multisite.json").read_text())
    assert set(sites["site"]) == set(record["site_levels"])
    assert sites["rows"].sum() == 3 * record["rows_kept"]
    assert np.isfinite(sites[["elpd_site", "elpd_rows"]]).all().all()


@pytest.mark.workflow
def test_a_model_on_other_rows_is_refused_by_the_workflow(workflow_copy, rrr_mirror):
    models = (
        "{rrr: {models: {random_intercept: {formula: "
        "'value ~ condition + age + gender + self_perf + (1|study)'}}}}"
    )
    result = snakemake(
        workflow_copy,
        "results/rrr/loo.parquet",
        config={"preset": "smoke", "mirror": rrr_mirror, "datasets": models},
        check=False,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "cannot compare models fitted to different rows" in output
    assert "fixed (6907 rows)" in output and "random_intercept (6539 rows)" in output
