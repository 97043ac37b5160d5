"""The shared pipeline run (conftest.pipeline: smoke preset, every kind of rule and rung):
what every stage wrote, read back and checked against its inputs. Plumbing, not
numbers: the statistics have tests of their own on fits sized for them."""

import html
import json
import subprocess

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from replication_ladder.data.sites import participant_means, per_site_effects

from conftest import LOSO_SITES, PIPELINE_RUNGS, config_copy

pytestmark = pytest.mark.workflow

FITS = {
    dataset: PIPELINE_RUNGS.get(dataset, list(spec["models"]))
    for dataset, spec in config_copy()["datasets"].items()
}


def test_every_fit_wrote_its_artefacts(pipeline):
    for dataset, models in FITS.items():
        for model in models:
            folder = pipeline / "results" / dataset / model
            with xr.open_datatree(folder / "posterior.nc") as tree:
                groups = set(tree.children)
                assert {
                    "posterior",
                    "sample_stats",
                    "log_likelihood",
                    "log_prior",
                    "observed_data",
                } <= groups
                assert dict(tree["posterior"].sizes)["chain"] == 2
                assert np.isfinite(tree["log_likelihood"].to_dataset().to_array().values).all()
            summary = pd.read_parquet(folder / "summary.parquet")
            assert {"mean", "sd", "ci_low", "ci_high", "ess_bulk", "ess_tail", "r_hat"} <= set(
                summary.columns
            )
            assert not any(name.endswith("_offset") for name in summary.index)
            diagnostics = json.loads((folder / "diagnostics.json").read_text())
            assert diagnostics["dataset"] == dataset and diagnostics["model"] == model
            assert {"prior_data_conflict", "weak_likelihood", "provenance"} <= set(diagnostics)
            psense = pd.read_parquet(folder / "psense.parquet")
            assert set(psense.columns) == {"prior", "likelihood", "diagnosis"}
            assert set(json.loads((folder / "priors.json").read_text())) <= {
                *summary.index,
                *(n.split("[")[0] for n in summary.index),
            }


def test_the_pooled_effect_is_named_after_the_treatment_in_every_rung(pipeline):
    for model in FITS["rrr"]:
        summary = pd.read_parquet(pipeline / f"results/rrr/{model}/summary.parquet")
        assert "condition" in summary.index, model
    meta = pd.read_parquet(pipeline / "results/rrr/meta_analysis/summary.parquet")
    assert {"condition", "condition|study_sigma"} <= set(meta.index)
    assert sum(name.startswith("condition|study[") for name in meta.index) == 17


def test_the_loo_table_compares_only_comparable_rungs(pipeline):
    table = pd.read_parquet(pipeline / "results/rrr/loo.parquet")
    compared = table[table["comparable"]]
    assert set(compared.index) == {"fixed", "participant"}
    assert not table.loc["meta_analysis", "comparable"]
    assert "per-site estimates" in table.loc["meta_analysis", "not_comparable_because"]
    for model in compared.index:
        pointwise = pd.read_parquet(pipeline / f"results/rrr/{model}/loo_pointwise.parquet")
        assert len(pointwise) == compared.loc[model, "rows"] == 6907
        np.testing.assert_allclose(pointwise["elpd_i"].sum(), compared.loc[model, "elpd"])
    assert sorted(compared["rank"]) == [0, 1]


def test_the_recovery_table_agrees_with_the_truth_files(pipeline):
    table = pd.read_parquet(pipeline / "results/recovery.parquet")
    assert set(table["dataset"]) == {
        "multisite",
        "within",
        "linear",
        "categorical",
        "logit",
        "measurement_error",
    }
    for dataset, part in table.groupby("dataset"):
        truth = json.loads((pipeline / f"data/raw/{dataset}.truth.json").read_text())["parameters"]
        for _, row in part.iterrows():
            assert row["true_value"] == truth[row["parameter"]]
            estimate = pd.read_parquet(
                pipeline / f"results/{dataset}/{row['model']}/summary.parquet"
            ).loc[row["parameter"]]
            assert (row["mean"], row["ci_low"], row["ci_high"]) == tuple(
                estimate[["mean", "ci_low", "ci_high"]]
            )
            assert row["covered"] == (row["ci_low"] <= row["true_value"] <= row["ci_high"])
    multisite = table[table["dataset"] == "multisite"]
    # The participant rung estimates every parameter of the generator; the meta-analysis
    # the pooled effect and the site effects' SD and values it shares with it.
    assert set(multisite["model"]) == {"participant", "meta_analysis"}
    meta = set(multisite.loc[multisite["model"] == "meta_analysis", "parameter"])
    assert {"condition", "condition|study_sigma"} <= meta and "sigma" not in meta


def test_the_two_stage_estimates_follow_the_processed_data(pipeline):
    data = pd.read_parquet(pipeline / "data/processed/rrr.parquet")
    stored = pd.read_parquet(pipeline / "data/processed/rrr.sites.parquet")
    again = per_site_effects(participant_means(data, "study", "uid", "condition", "value"))
    pd.testing.assert_frame_equal(stored, again)


def test_the_rrr_verdict(pipeline):
    report = json.loads((pipeline / "results/rrr/replication.json").read_text())
    assert report["verdict_model"] == "participant"  # the compared rung that respects the design
    assert report["verdict"].startswith("The original effect (0.82)")
    assert report["published"]["estimate"] == 0.03
    for key in ("sensitivity", "replication_bf", "equivalence", "small_telescopes", "test_prior"):
        assert report[key], key
    assert report["test_prior"]["prior"] == {"dist": "Normal", "mu": 0, "sigma": 0.82}
    scales = [point["scale"] for point in report["sensitivity"]["curve"]]
    assert scales == config_copy()["datasets"]["rrr"]["replication"]["sensitivity_scales"]
    assert report["sensitivity"]["one_sided"]  # the original predicted a direction
    for model, effect in report["models"].items():
        priors = json.loads((pipeline / f"results/rrr/{model}/priors.json").read_text())
        assert effect["prior"] == priors["condition"], model
        assert effect["ci_low"] < effect["mean"] < effect["ci_high"]
    assert len(report["models"]["participant"]["site_effects"]["sites"]) == 17
    assert report["models"]["fixed"]["site_effects"] is None


def test_leave_one_site_out(pipeline):
    table = pd.read_parquet(pipeline / "results/multisite/loso.parquet")
    sites = pd.read_parquet(pipeline / "results/multisite/loso_sites.parquet")
    rungs = {"fixed", "random_slope", "participant"}  # the meta-analysis models the sites
    assert set(table.index) == rungs
    assert (table["sites"] == LOSO_SITES).all() and len(sites) == len(rungs) * LOSO_SITES
    assert table["elpd_loso"].is_monotonic_decreasing and list(table["rank"]) == [0, 1, 2]
    np.testing.assert_allclose(
        table["elpd_loso"], sites.groupby("model")["elpd_site"].sum()[table.index]
    )
    record = json.loads((pipeline / "data/processed/multisite.json").read_text())
    assert set(sites["site"]) == set(record["site_levels"])
    assert sites["rows"].sum() == len(rungs) * record["rows_kept"]
    assert np.isfinite(sites[["elpd_site", "elpd_rows"]]).all().all()


def test_predictions_have_their_intervals(pipeline):
    for dataset in ("linear", "categorical", "logit", "measurement_error"):
        for model in FITS[dataset]:
            table = pd.read_parquet(pipeline / f"results/{dataset}/{model}/predictions.parquet")
            assert (table["mean_ci_low"] <= table["mean"]).all() and (
                table["mean"] <= table["mean_ci_high"]
            ).all()
            if dataset != "logit":  # a new observation of a continuous outcome varies more
                width = table["obs_ci_high"] - table["obs_ci_low"]
                assert (width >= table["mean_ci_high"] - table["mean_ci_low"]).all()
    grid = pd.read_parquet(pipeline / "results/logit/wide_priors/predictions.parquet")
    assert len(grid) == 41 * 2 and grid["mean"].between(0, 1).all() and "covered" not in grid


def test_the_diagnostics_table_has_a_row_per_fit(pipeline):
    table = pd.read_parquet(pipeline / "results/diagnostics.parquet")
    expected = {(d, m) for d, models in FITS.items() for m in models}
    assert set(table.index) == expected
    assert {
        "prior_data_conflict",
        "weak_likelihood",
        "provenance.cpu.flags",
        "provenance.blas.name",
    } <= set(table.columns)


def test_provenance_names_the_commit_and_that_the_tree_differs(pipeline):
    """The run's clone has the test config written over config/config.yaml: its tree
    differs from the commit, and every diagnostics file says so."""
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=pipeline, capture_output=True, text=True, check=True
    ).stdout.strip()
    for path in (pipeline / "results").glob("*/*/diagnostics.json"):
        d = json.loads(path.read_text())
        assert d["seed"] and len(d["config_sha256"]) == 64 and len(d["data_sha256"]) == 64
        assert len(d["workflow_config_sha256"]) == 64
        assert d["provenance"]["git_commit"] == commit
        assert d["provenance"]["git_dirty"] is True
        assert d["provenance"]["threads"] == 1 and d["provenance"]["cpu"]["count"] >= 1
        assert {"python", "pymc", "bambi", "arviz", "nutpie"} <= set(d["provenance"]["versions"])


REPORTED = list(FITS)


def test_every_dataset_has_a_report_and_the_index_links_them(pipeline):
    index = (pipeline / "reports/index.html").read_text()
    for dataset in REPORTED:
        assert f'href="{dataset}.html"' in index
        notebook = json.loads((pipeline / f"reports/{dataset}.ipynb").read_text())
        tags = [cell.get("metadata", {}).get("tags", []) for cell in notebook["cells"]]
        assert ["parameters"] in tags and ["injected-parameters"] in tags
        outputs = [o for cell in notebook["cells"] for o in cell.get("outputs", [])]
        assert not [o for o in outputs if o["output_type"] == "error"]
        page = (pipeline / f"reports/{dataset}.html").read_text()
        assert ".jp-CodeCell .jp-InputArea {display: none;}" in page and 'src="http' not in page
        figures = {p.name for p in (pipeline / "reports" / dataset).iterdir()}
        assert {
            "ladder.forest.png",
            "ladder.loo.png",
            "ladder.pareto_k.png",
            "ladder.loo.csv",
        } <= figures
    verdict = json.loads((pipeline / "results/rrr/replication.json").read_text())["verdict"]
    assert html.escape(verdict) in index


def test_the_rrr_report_shows_every_rung_and_the_verdicts_figures(pipeline):
    figures = {p.name for p in (pipeline / "reports/rrr").iterdir()}
    assert {
        "ladder.verdict.png",
        "ladder.robustness.png",
        "ladder.savage_dickey.png",
        "ladder.site_effects.png",
        "ladder.clustering.csv",
    } <= figures
    clustering = pd.read_csv(pipeline / "reports/rrr/ladder.clustering.csv", index_col=0)
    assert 0.1 < clustering.loc["participant", "icc"] < 0.4  # the RRR's is 0.24
    page = (pipeline / "reports/rrr.html").read_text()
    for text in (
        "Clustering of the outcome",
        "not in the comparison",
        "replication Bayes factor",
        "small telescopes",
        "test prior",
        "Provenance",
        "BLAS",
    ):
        assert text in page, text
