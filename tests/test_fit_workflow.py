"""Fits run by the workflow: strictness. (Their artefacts are checked on the shared
pipeline, test_pipeline.py; the same draws again, cold and warm, in test_hardening.py.)"""

import json
import shutil

import pytest

from conftest import snakemake

pytestmark = pytest.mark.workflow


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
    # Fixing the config (enough tuning; a lenient judge, as smoke runs cannot reach ESS
    # 400) resumes only the failed fit; failed/ goes away.
    shutil.rmtree(workflow_copy / "logs")
    snakemake(
        workflow_copy,
        "results/logit/default_priors/summary.parquet",
        config={
            "mirror": rrr_mirror,
            "strict_convergence": "true",
            "sampling": "{draws: 300, tune: 300, chains: 2}",
            "convergence": "{min_ess: 50, max_r_hat: 1.05}",
        },
    )
    assert (fit_dir / "summary.parquet").exists() and not (fit_dir / "failed").exists()
