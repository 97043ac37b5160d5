"""The pipeline on a real SLURM cluster (one node on loopback, started by the tests), on
the smallest DAG that still crosses every kind of rule: fetching, generating and
validating data, per-site estimates, fits of both kinds, LOO, the comparison, recovery,
the verdict, leave one site out, predictions, calibration batches and reports.

Every fit and calibration batch must run as a SLURM job; the results must equal a local
run of the same rungs bit for bit; a batch killed half-way resumes without redoing
finished replicates; a fit that fails in a way a retry cannot fix is not recomputed by
the profile's retries; a rerun after fixing the config does only what is missing."""

import json
import os
import re
import signal
import subprocess
import time

import pandas as pd
import pytest

from conftest import (
    SLURM,
    clone_workflow,
    smoke_config,
    snakemake,
    snakemake_command,
    write_config,
)

pytestmark = [pytest.mark.workflow, pytest.mark.slurm]


def slurm_config(rrr_mirror) -> dict:
    config = smoke_config(rrr_mirror)
    datasets = config["datasets"]
    rrr, multisite, linear = datasets["rrr"], datasets["multisite"], datasets["linear"]
    rrr["models"] = {m: rrr["models"][m] for m in ("fixed", "meta_analysis")}
    multisite["models"] = {"fixed": multisite["models"]["fixed"]}
    multisite["loso"] = True
    multisite["source"]["params"] |= {"sites": 3, "participants": 8}
    config["datasets"] = {"rrr": rrr, "multisite": multisite, "linear": linear}
    config["sbc"] |= {
        "datasets": ["linear"],
        "replicates": 3,
        "batch_size": 2,
        "draws": 50,
        "tune": 50,
        "chains": 2,
    }
    return config


def submitted_jobs(output: str) -> dict[str, list[int]]:
    """SLURM job ids per rule, from Snakemake's 'submitted with SLURM jobid' lines."""
    jobs: dict[str, list[int]] = {}
    for rule, jobid in re.findall(r"slurm_logs/rule_(\w+)/\S+/(\d+)\.log", output):
        jobs.setdefault(rule, []).append(int(jobid))
    return jobs


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory, cluster, rrr_mirror):
    """The small DAG through SLURM, the calibration included: (dir, output, seconds)."""
    workdir = clone_workflow(tmp_path_factory.mktemp("slurm-pipeline") / "clone")
    write_config(workdir, slurm_config(rrr_mirror))
    started = time.monotonic()
    result = snakemake(workdir, *SLURM, "all", "sbc_all", env=cluster, timeout=1500)
    return workdir, result.stdout + result.stderr, time.monotonic() - started


def test_every_heavy_job_went_through_sbatch(slurm_run):
    workdir, output, seconds = slurm_run
    jobs = submitted_jobs(output)
    print(f"the small DAG through SLURM took {seconds:.0f} s; SLURM job ids: {jobs}")
    fits = sorted(p.parent for p in (workdir / "results").glob("*/*/diagnostics.json"))
    assert len(fits) == 4 and len(jobs["fit"]) == 4
    assert len(jobs["sbc"]) == 2 and len(jobs["loso"]) == 1
    slurm_ids = [
        int(json.loads((f / "diagnostics.json").read_text())["provenance"]["slurm_job_id"])
        for f in fits
    ]
    assert sorted(slurm_ids) == sorted(jobs["fit"])  # each fit in a SLURM job of its own
    for rule in (
        "fetch_data",
        "simulate_data",
        "validate_data",
        "site_estimates",
        "report",
        "report_index",
        "sbc_ranks",
    ):
        assert rule not in jobs  # small jobs ran where Snakemake runs
    for kind in ("replication.json", "recovery.parquet", "loso.parquet"):
        assert list((workdir / "results").glob(f"*/{kind}")), kind
    ranks = pd.read_parquet(workdir / "results/sbc/linear/linear/ranks.parquet")
    assert list(ranks["replicate"]) == [0, 1, 2]
    assert (workdir / "reports/sbc.html").exists() and (workdir / "reports/index.html").exists()


def test_results_on_slurm_equal_a_local_run_bit_for_bit(slurm_run, tmp_path, rrr_mirror):
    """The same config run locally (without SLURM) gives the same fits to the last bit,
    and the same tables built from them."""
    workdir, _, _ = slurm_run
    local = clone_workflow(tmp_path / "local")
    write_config(local, slurm_config(rrr_mirror))
    fits = ("rrr/fixed", "rrr/meta_analysis", "linear/linear")
    targets = [f"results/{fit}/summary.parquet" for fit in fits]
    snakemake(local, *targets, "results/linear/recovery.parquet")
    for fit in fits:
        for name in ("summary.parquet", "ppc.parquet", "priors.json", "psense.parquet"):
            ours, theirs = workdir / "results" / fit / name, local / "results" / fit / name
            assert ours.read_bytes() == theirs.read_bytes(), f"{fit}/{name}"
    pd.testing.assert_frame_equal(
        pd.read_parquet(workdir / "results/linear/recovery.parquet"),
        pd.read_parquet(local / "results/linear/recovery.parquet"),
        check_exact=True,
    )


def test_a_calibration_batch_killed_half_way_resumes(cluster, tmp_path, rrr_mirror):
    """A batch of 40 short replicates; its SLURM job is cancelled once some are kept. The
    rerun submits the batch again, which reuses the kept replicates and fits only the
    rest; the ranks equal those of an uninterrupted batch."""
    workdir = clone_workflow(tmp_path / "killed")
    config = slurm_config(rrr_mirror)
    config["datasets"] = {"linear": config["datasets"]["linear"]}
    config["sbc"] |= {"replicates": 40, "batch_size": 40}
    write_config(workdir, config)
    progress = workdir / "results/sbc/linear/linear/.progress/batch0"
    target = "results/sbc/linear/linear/ranks.parquet"
    run = subprocess.Popen(
        snakemake_command(*SLURM, target),
        cwd=workdir,
        env=cluster,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and len(list(progress.glob("replicate*.json"))) < 3:
        time.sleep(0.2)
    subprocess.run(["scancel", "--user", "root"], env=cluster, check=True)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=60)
    kept = len(list(progress.glob("replicate*.json")))
    assert 3 <= kept < 40, f"{kept} replicates kept"
    assert not (workdir / "results/sbc/linear/linear/batch0.parquet").exists()
    subprocess.run(
        snakemake_command(*SLURM, "--unlock", target),
        cwd=workdir,
        env=cluster,
        capture_output=True,
        check=True,
    )
    snakemake(workdir, *SLURM, target, env=cluster, timeout=900)
    log = (workdir / "logs/sbc/linear/linear/batch0.log").read_text()
    done = re.findall(r"batch 0: (\d+) replicates already done, (\d+) to go", log)
    assert done and int(done[-1][0]) == kept and sum(map(int, done[-1])) == 40, done
    resumed = pd.read_parquet(workdir / target)
    assert list(resumed["replicate"]) == list(range(40))


def test_a_failure_a_retry_cannot_fix_is_not_recomputed_on_the_cluster(
    cluster, tmp_path, rrr_mirror
):
    """Five tuning steps cannot converge; strict_convergence turns that into a failure.
    The profile retries a failed job twice: both retries fail at once, naming the first
    attempt's reason, without sampling. After the config is fixed, the rerun does only
    the fit that failed."""
    workdir = clone_workflow(tmp_path / "failing")
    config = slurm_config(rrr_mirror)
    config["strict_convergence"] = True
    config["datasets"] = {"linear": config["datasets"]["linear"]}
    config["datasets"]["linear"]["models"]["linear"]["sampling"] = {
        "draws": 30,
        "tune": 5,
        "chains": 2,
    }
    config["sbc"]["datasets"] = []
    write_config(workdir, config)
    result = snakemake(
        workdir, "results/linear/loo.parquet", *SLURM, env=cluster, check=False, timeout=1200
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert re.search(
        r"Error in rule fit:.*?wildcards: dataset=linear, model=linear", output, re.DOTALL
    )
    log = (workdir / "logs/fit/linear/linear.log").read_text()
    attempts = [line for line in log.splitlines() if line.startswith("=== attempt")]
    assert len(attempts) == 3, log[-2000:]
    assert log.count("Formula:") == 1  # built and sampled on the first attempt only
    assert "linear/linear did not converge" in log and "attempt 3 not run" in log

    config["datasets"]["linear"]["models"]["linear"]["sampling"] = {
        "draws": 300,
        "tune": 300,
        "chains": 2,
    }
    config["convergence"] = {"max_r_hat": 1.05, "min_ess": 50, "max_divergences": 0}
    write_config(workdir, config)
    plan = snakemake(workdir, "results/linear/loo.parquet", *SLURM, "--dry-run", env=cluster)
    assert plan.stdout.count("rule fit:") == 1
    snakemake(workdir, "results/linear/loo.parquet", *SLURM, env=cluster, timeout=1200)
    assert not (workdir / "results/linear/linear/failed").exists()
