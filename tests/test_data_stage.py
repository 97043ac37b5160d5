"""The data stage of the workflow, run for real offline, and a dry run of the whole DAG."""

import json

import pandas as pd
import pytest

from conftest import snakemake

DATASETS = ["rrr", "multisite", "linear", "categorical", "logit", "measurement_error"]


@pytest.mark.workflow
def test_dry_run_of_the_whole_dag(workflow_copy, rrr_mirror):
    result = snakemake(workflow_copy, "--dry-run", config={"mirror": rrr_mirror})
    for rule in ("fetch_data", "simulate_data", "validate_data"):
        assert rule in result.stdout


@pytest.mark.workflow
def test_data_stage_offline(workflow_copy, rrr_mirror):
    targets = [f"data/processed/{name}.parquet" for name in DATASETS]
    snakemake(workflow_copy, *targets, config={"mirror": rrr_mirror})
    for name in DATASETS:
        table = pd.read_parquet(workflow_copy / f"data/processed/{name}.parquet")
        record = json.loads((workflow_copy / f"data/processed/{name}.json").read_text())
        assert len(table) == record["rows_kept"] > 0
        assert (workflow_copy / f"logs/validate_data/{name}.log").exists()
    rrr = json.loads((workflow_copy / "data/processed/rrr.json").read_text())
    assert (rrr["rows_raw"], rrr["rows_removed"], rrr["rows_kept"]) == (6940, 33, 6907)
    truth = json.loads((workflow_copy / "data/raw/linear.truth.json").read_text())
    assert truth["parameters"] == {"Intercept": 1.0, "X": 2.5, "sigma": 1.5}
    # Nothing to do on a second run.
    again = snakemake(workflow_copy, *targets, config={"mirror": rrr_mirror})
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.workflow
def test_switching_to_the_mirror_refetches_nothing(workflow_copy, rrr_mirror):
    snakemake(workflow_copy, "data/processed/rrr.parquet", config={"mirror": rrr_mirror})
    # A run without the mirror (online) must not consider the data out of date.
    result = snakemake(workflow_copy, "--dry-run", "data/processed/rrr.parquet")
    assert "Nothing to be done" in result.stdout + result.stderr
