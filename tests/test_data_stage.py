"""The data stage of the workflow, run for real offline (in the shared pipeline, which
takes the RRR file from the mirror), and a dry run of the whole DAG."""

import json

import pandas as pd
import pytest

from conftest import linked_copy, snakemake

DATASETS = ["rrr", "multisite", "linear", "categorical", "logit", "measurement_error"]


@pytest.mark.workflow
def test_dry_run_of_the_whole_dag(workflow_copy, rrr_mirror):
    result = snakemake(workflow_copy, "--dry-run", config={"mirror": rrr_mirror})
    for rule in ("fetch_data", "simulate_data", "validate_data"):
        assert rule in result.stdout


@pytest.mark.workflow
def test_data_stage_offline(pipeline, rrr_mirror):
    for name in DATASETS:
        table = pd.read_parquet(pipeline / f"data/processed/{name}.parquet")
        record = json.loads((pipeline / f"data/processed/{name}.json").read_text())
        assert len(table) == record["rows_kept"] > 0
        assert (pipeline / f"logs/validate_data/{name}.log").exists()
    rrr = json.loads((pipeline / "data/processed/rrr.json").read_text())
    assert (rrr["rows_raw"], rrr["rows_removed"], rrr["rows_kept"]) == (6940, 33, 6907)
    fetched = (pipeline / "logs/fetch_data/rrr.csv.log").read_text()
    assert f"copied {rrr_mirror / 'rrr_long.csv'} to data/raw/rrr.csv" in fetched
    truth = json.loads((pipeline / "data/raw/linear.truth.json").read_text())
    assert truth["parameters"] == {"Intercept": 1.0, "X": 2.5, "sigma": 1.5}


@pytest.mark.workflow
def test_switching_to_the_mirror_refetches_nothing(pipeline, tmp_path):
    """The pipeline fetched the RRR from the mirror: a run without it (online) must not
    consider the data out of date."""
    copy = linked_copy(pipeline, tmp_path / "run")
    result = snakemake(copy, "--dry-run", "data/processed/rrr.parquet", config={"mirror": "null"})
    assert "Nothing to be done" in result.stdout + result.stderr
