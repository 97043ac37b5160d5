"""Fits run by the workflow: artefacts, reproducibility, parallel safety, strictness."""

import json
import shutil

import pandas as pd
import pytest
import xarray as xr

from conftest import snakemake

pytestmark = pytest.mark.workflow

SMOKE = {"preset": "smoke"}


def sampler_override(dataset: str, model: str, sampler: str) -> str:
    return f"{{{dataset}: {{models: {{{model}: {{sampling: {{sampler: {sampler}}}}}}}}}}}"


def test_fit_artefacts(workflow_copy, rrr_mirror):
    target = "results/categorical/custom_prior/summary.parquet"
    snakemake(workflow_copy, target, config={**SMOKE, "mirror": rrr_mirror})
    fit_dir = workflow_copy / "results/categorical/custom_prior"
    posterior = xr.open_datatree(fit_dir / "posterior.nc")
    assert set(posterior.children) == {
        "posterior",
        "sample_stats",
        "log_likelihood",
        "observed_data",
    }
    assert dict(posterior["posterior"].sizes) == {"chain": 2, "draw": 100, "C(D)_dim": 1}
    assert posterior["log_likelihood"]["Y"].shape == (2, 100, 200)
    summary = pd.read_parquet(fit_dir / "summary.parquet")
    assert list(summary.index) == ["Intercept", "X", "C(D)[1]", "sigma"]
    assert {"mean", "sd", "ci_low", "ci_high", "ess_bulk", "ess_tail", "r_hat"} <= set(
        summary.columns
    )
    assert (summary["ci_low"] < summary["mean"]).all()
    assert (summary["mean"] < summary["ci_high"]).all()
    diagnostics = json.loads((fit_dir / "diagnostics.json").read_text())
    for key in (
        "sampler",
        "seed",
        "chains",
        "draws",
        "tune",
        "target_accept",
        "divergences",
        "max_r_hat",
        "min_ess_bulk",
        "min_ess_tail",
        "sampling_seconds",
        "wall_seconds",
        "data_sha256",
        "config_sha256",
    ):
        assert diagnostics[key] is not None, key
    assert diagnostics["provenance"]["versions"]["bambi"] == "0.21.0"
    priors = json.loads((fit_dir / "priors.json").read_text())
    assert priors["C(D)"] == {"dist": "Normal", "mu": 0.5, "sigma": 10.0}
    assert "C(D) ~ Normal(mu: 0.5, sigma: 10.0)" in (fit_dir / "priors.txt").read_text()
    benchmark = pd.read_csv(fit_dir / "benchmark.tsv", sep="\t")
    assert benchmark["max_rss"].iloc[0] > 0
    assert (workflow_copy / "logs/fit/categorical/custom_prior.log").stat().st_size > 0


@pytest.mark.parametrize("sampler", ["nutpie", "pymc"])
def test_same_config_same_draws(workflow_copy, rrr_mirror, sampler):
    target = "results/linear/linear/summary.parquet"
    config = {
        **SMOKE,
        "mirror": rrr_mirror,
        "datasets": sampler_override("linear", "linear", sampler),
    }
    snakemake(workflow_copy, target, config=config)
    fit_dir = workflow_copy / "results/linear/linear"
    first = (fit_dir / "summary.parquet").read_bytes()
    first_draws = xr.open_datatree(fit_dir / "posterior.nc")["posterior"].to_dataset().load()
    snakemake(workflow_copy, target, "--forcerun", "fit", config=config)
    assert (fit_dir / "summary.parquet").read_bytes() == first
    again = xr.open_datatree(fit_dir / "posterior.nc")["posterior"].to_dataset()
    xr.testing.assert_identical(again.load().drop_attrs(), first_draws.drop_attrs())
    assert json.loads((fit_dir / "diagnostics.json").read_text())["sampler"] == sampler


def test_strict_convergence_fails_the_job_and_keeps_artefacts_aside(workflow_copy, rrr_mirror):
    config = {
        "mirror": rrr_mirror,
        "strict_convergence": "true",
        "sampling": "{draws: 20, tune: 5, chains: 2}",
    }
    result = snakemake(
        workflow_copy, "results/logit/default_priors/summary.parquet", config=config, check=False
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    failure = "fit(dataset=logit, model=default_priors): logit/default_priors did not converge"
    assert failure in output
    fit_dir = workflow_copy / "results/logit/default_priors"
    assert not (fit_dir / "summary.parquet").exists()
    failed = json.loads((fit_dir / "failed/diagnostics.json").read_text())
    assert failed["status"] == "failed" and failed["warnings"]
    assert (fit_dir / "failed/posterior.nc").exists()
    # Fixing the config (enough tuning) resumes only the failed fit; failed/ goes away.
    shutil.rmtree(workflow_copy / "logs")
    snakemake(
        workflow_copy,
        "results/logit/default_priors/summary.parquet",
        config={"mirror": rrr_mirror, "strict_convergence": "true"},
    )
    assert (fit_dir / "summary.parquet").exists() and not (fit_dir / "failed").exists()
