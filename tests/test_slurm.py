"""The pipeline on a real SLURM cluster (one node on loopback, started by the tests).

The quick pipeline goes through sbatch with the workflow's SLURM profile; every fit must
have run as a SLURM job, and the results must equal a local run of the same config bit
for bit. A fit that fails on the cluster stops the run with the job named, and a rerun
after fixing the config does only what is missing.
"""

import json
import re

import pandas as pd
import pytest
import xarray as xr

from conftest import LOSO_SITES, SLURM, clone_workflow, snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.slurm]

COMPARED = ["summary.parquet", "loo_pointwise.parquet", "ppc.parquet", "priors.json"]


def submitted_jobs(output: str) -> dict[str, list[int]]:
    """SLURM job ids per rule, from Snakemake's 'submitted with SLURM jobid' lines."""
    jobs: dict[str, list[int]] = {}
    for rule, jobid in re.findall(r"slurm_logs/rule_(\w+)/\S+/(\d+)\.log", output):
        jobs.setdefault(rule, []).append(int(jobid))
    return jobs


def test_every_fit_went_through_sbatch(slurm_pipeline):
    workdir, output, seconds = slurm_pipeline
    jobs = submitted_jobs(output)
    print(f"the quick pipeline through SLURM took {seconds:.0f} s; SLURM job ids: {jobs}")
    fits = sorted(p.parent for p in (workdir / "results").glob("*/*/diagnostics.json"))
    assert len(fits) == 13 and len(jobs["fit"]) == len(fits)
    assert len(jobs["loso_refit"]) == 3 * LOSO_SITES
    slurm_ids = [
        int(json.loads((fit / "diagnostics.json").read_text())["provenance"]["slurm_job_id"])
        for fit in fits
    ]
    assert sorted(slurm_ids) == sorted(jobs["fit"])  # each fit in a SLURM job of its own
    for rule in ("fetch_data", "simulate_data", "report", "report_index"):
        assert rule not in jobs  # small jobs ran where Snakemake runs


def test_results_on_slurm_equal_a_local_run_bit_for_bit(slurm_pipeline, pipeline):
    workdir, _, _ = slurm_pipeline
    fits = sorted(p.parent for p in (workdir / "results").glob("*/*/diagnostics.json"))
    for fit in fits:
        local = pipeline / fit.relative_to(workdir)
        for name in COMPARED:
            assert (fit / name).read_bytes() == (local / name).read_bytes(), fit / name
        with (
            xr.open_datatree(fit / "posterior.nc") as ours,
            xr.open_datatree(local / "posterior.nc") as theirs,
        ):
            for group in ("posterior", "log_likelihood"):
                xr.testing.assert_identical(
                    ours[group].to_dataset().drop_attrs(), theirs[group].to_dataset().drop_attrs()
                )
    tables = [p.relative_to(workdir) for p in (workdir / "results").glob("*/*.parquet")]
    assert len(tables) >= 13
    for table in [*tables, "results/recovery.parquet"]:
        pd.testing.assert_frame_equal(
            pd.read_parquet(workdir / table), pd.read_parquet(pipeline / table), check_exact=True
        )
    assert (workdir / "results/rrr/replication.json").read_bytes() == (
        pipeline / "results/rrr/replication.json"
    ).read_bytes()


def test_a_failing_fit_names_the_job_and_a_fixed_rerun_does_only_what_is_missing(
    cluster, tmp_path, rrr_mirror
):
    workdir = clone_workflow(tmp_path / "failing")
    target = "results/logit/loo.parquet"
    # Five tuning steps cannot converge; strict_convergence turns that into a failure.
    # The other rung has draws enough for ESS >= 400 (its posterior is correlated).
    models = (
        "{{logit: {{models: {{default_priors: {{sampling: {{draws: {0}, tune: {1}, "
        "chains: 2}}}}, wide_priors: {{sampling: {{draws: 1500, tune: 1000, chains: 2}}}}}}}}}}"
    )
    config = {"mirror": rrr_mirror, "strict_convergence": "true", "datasets": models.format(30, 5)}
    result = snakemake(
        workdir,
        target,
        *SLURM,
        "--retries",
        "0",
        config=config,
        env=cluster,
        check=False,
        timeout=1200,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert re.search(
        r"Error in rule fit:.*?wildcards: dataset=logit, model=default_priors", output, re.DOTALL
    ), output[-3000:]
    log = (workdir / "logs/fit/logit/default_priors.log").read_text()
    assert "logit/default_priors did not converge" in log
    finished = workdir / "results/logit/wide_priors/summary.parquet"
    assert finished.exists()  # keep-going: the other fit completed on the cluster
    finished_at = finished.stat().st_mtime_ns

    config["datasets"] = models.format(1000, 1000)  # enough tuning
    plan = snakemake(workdir, target, *SLURM, "--dry-run", config=config, env=cluster)
    assert plan.stdout.count("rule fit:") == 1  # only the fit that failed
    assert "dataset=logit, model=default_priors" in plan.stdout
    snakemake(workdir, target, *SLURM, config=config, env=cluster, timeout=1200)
    assert (workdir / "results/logit/default_priors/summary.parquet").exists()
    assert finished.stat().st_mtime_ns == finished_at  # not refitted
    assert not (workdir / "results/logit/default_priors/failed").exists()
