"""Cluster resources sized from the data, the draws and the refits a job runs, growing with
each retry."""

import json

import pandas as pd
import pytest

from replication_ladder.jobs import resources
from replication_ladder.jobs.resources import DataSize

QUICK = {"draws": 400, "tune": 400, "chains": 2}
DEFAULT = {"draws": 1000, "tune": 1000, "chains": 4}


def test_sizes_and_sites_are_read_from_the_files_and_zero_before_they_exist(tmp_path):
    table, record = tmp_path / "table.parquet", tmp_path / "record.json"
    assert resources.data_size(table, ["lab"]) == DataSize(0, 0)
    assert resources.sites_in(record) == 0
    rows = pd.DataFrame({"x": range(6907), "lab": [i % 17 for i in range(6907)]})
    rows["participant"] = [f"p{i // 4}" for i in range(6907)]
    rows.to_parquet(table)
    record.write_text(json.dumps({"site_levels": [str(i) for i in range(17)]}))
    assert resources.data_size(table) == DataSize(6907, 0)
    assert resources.data_size(table, {"lab", "participant"}) == DataSize(6907, 1744)
    assert resources.data_size(table, {"lab", "not_a_column"}) == DataSize(6907, 17)
    assert resources.sites_in(record) == 17


def test_memory_and_time_grow_with_rows_draws_refits_and_attempts():
    rrr = resources.fit_mem_mb(DataSize(6907, 17), DEFAULT)
    # 900 MB, 0.01 MB a row, and 84 parameters x 4000 draws x 8 bytes thrice: 8 MB.
    assert rrr == 978
    assert resources.fit_mem_mb(DataSize(100, 17), DEFAULT) < rrr
    assert resources.fit_mem_mb(DataSize(6907, 17), QUICK) < rrr
    assert resources.fit_mem_mb(DataSize(6907, 1744), DEFAULT) > rrr  # participants
    assert (
        resources.fit_mem_mb(DataSize(6907, 17), DEFAULT, attempt=2) == 1955
    )  # twice, rounded up once
    # A LOO job that may refit holds the log-likelihood and a fit's memory besides; one
    # without a remedy to run reads its fit's PSIS table only.
    assert resources.loo_mem_mb(DataSize(6907, 17), DEFAULT, refits=20) > rrr
    assert resources.loo_mem_mb(DataSize(6907, 17), DEFAULT) == resources.BASE_MB < rrr
    assert resources.fit_runtime(DataSize(100), QUICK) == 11  # the floor of 10 minutes, rounded up
    assert resources.fit_runtime(DataSize(6907), DEFAULT, attempt=3) > 3 * resources.fit_runtime(
        DataSize(100), QUICK
    )
    # A thinned fit holds the kept draws and samples every draw.
    thinned = {**DEFAULT, "draws": 2 * DEFAULT["draws"], "thin": 2}
    assert resources.fit_mem_mb(DataSize(6907, 17), thinned) == rrr
    assert resources.sampling_seconds(DataSize(6907), thinned) > resources.sampling_seconds(
        DataSize(6907), DEFAULT
    )
    # Seventeen refits (leave one site out) take seventeen more fits' sampling time.
    rrr_labs = DataSize(6907, 17)
    one = resources.sampling_seconds(rrr_labs, DEFAULT)
    assert resources.sampling_seconds(rrr_labs, DEFAULT, refits=17) == pytest.approx(18 * one)
    assert resources.fit_runtime(rrr_labs, DEFAULT, refits=17) > resources.fit_runtime(
        rrr_labs, DEFAULT
    )


def test_a_fit_whose_sampling_is_light_gets_one_thread():
    """Estimated from rows x iterations x chains and the group levels, against one core's
    sampling measured with nutpie at 4 x (1,000 + 1,000) on the RRR (6,907 rows):
    the fixed, random-intercept and random-slope rungs (0 or 17 lab levels; 1.2, 3.9 and
    6.1 s) and the synthetic datasets (100-200 rows) sample in under a compile's time,
    the participant rung (1,745 levels; 24.9 s) does not. Unknown rows (a dry run
    before the data) keep a thread per chain, and refits count."""
    assert resources.sampling_seconds(DataSize(6907, 17), DEFAULT) == pytest.approx(6.1, rel=0.1)
    assert resources.sampling_seconds(DataSize(6907, 1745), DEFAULT) == pytest.approx(24.9, rel=0.1)
    assert resources.sampling_seconds(DataSize(6907), DEFAULT) > 1.2  # on the safe side
    assert resources.sampling_threads(DataSize(200), DEFAULT) == 1
    assert resources.sampling_threads(DataSize(17), DEFAULT) == 1
    assert resources.sampling_threads(DataSize(6907), DEFAULT) == 1
    assert resources.sampling_threads(DataSize(6907, 17), DEFAULT) == 1
    assert resources.sampling_threads(DataSize(6907, 1745), DEFAULT) == DEFAULT["chains"] == 4
    assert resources.sampling_threads(DataSize(0), DEFAULT) == 4
    assert resources.sampling_threads(DataSize(6907, 17), DEFAULT, refits=17) == 4


def test_the_longest_fits_are_scheduled_first():
    """The fit rule's priority (common.smk's fit_priority): the participant rung (1,745
    levels, 4 threads) before the lab rungs before the fixed one, and nothing known
    before the data exist (then the ladder's order decides)."""
    participant, labs, fixed = DataSize(6907, 1745), DataSize(6907, 17), DataSize(6907)
    order = [resources.longest_first(size, DEFAULT) for size in (participant, labs, fixed)]
    assert order == sorted(order, reverse=True) and len(set(order)) == 3
    assert resources.longest_first(DataSize(0), DEFAULT) == 0
