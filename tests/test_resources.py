"""Cluster resources sized from the data, the draws and the refits a job runs, growing with
each retry."""

import json

import pandas as pd

from replication_ladder import resources

QUICK = {"draws": 400, "tune": 400, "chains": 2}
DEFAULT = {"draws": 1000, "tune": 1000, "chains": 4}


def test_rows_and_sites_are_read_from_the_files_and_zero_before_they_exist(tmp_path):
    table, record = tmp_path / "table.parquet", tmp_path / "record.json"
    assert resources.rows_in(table) == 0 and resources.sites_in(record) == 0
    pd.DataFrame({"x": range(6907)}).to_parquet(table)
    record.write_text(json.dumps({"site_levels": [str(i) for i in range(17)]}))
    assert resources.rows_in(table) == 6907 and resources.sites_in(record) == 17


def test_memory_and_time_grow_with_rows_draws_refits_and_attempts():
    rrr = resources.fit_mem_mb(6907, DEFAULT)
    # 900 MB, plus 6907 rows x 4000 draws x 8 bytes = 221 MB of log-likelihood thrice.
    assert rrr == 1564
    assert resources.fit_mem_mb(100, DEFAULT) < rrr
    assert resources.fit_mem_mb(6907, QUICK) < rrr
    assert resources.fit_mem_mb(6907, DEFAULT, attempt=2) == 3127  # twice, rounded up once
    assert resources.loo_mem_mb(6907, DEFAULT) > rrr
    # A LOO job that may refit holds a fit's memory besides its own.
    assert resources.loo_mem_mb(6907, DEFAULT, refits=20) > resources.loo_mem_mb(6907, DEFAULT)
    assert resources.fit_runtime(100, QUICK) == 11  # the floor of 10 minutes, rounded up
    assert resources.fit_runtime(6907, DEFAULT, attempt=3) > 3 * resources.fit_runtime(100, QUICK)
    # Seventeen refits (leave one site out) take about seventeen fits' sampling time.
    one, many = (
        resources.fit_runtime(6907, DEFAULT),
        resources.fit_runtime(6907, DEFAULT, refits=17),
    )
    assert many - 10 > 15 * (one - 10)  # rounding up aside


def test_a_fit_whose_sampling_is_light_gets_one_thread():
    """Estimated from rows x iterations x chains: the synthetic datasets (100-200 rows) and
    a summary-level dataset (a row per site) sample in well under a compile's time, the
    RRR (6,907 rows) does not; unknown rows (a dry run before the data) keep a thread per
    chain, and refits count."""
    assert resources.sampling_threads(200, DEFAULT) == 1
    assert resources.sampling_threads(17, DEFAULT) == 1
    assert resources.sampling_threads(6907, DEFAULT) == DEFAULT["chains"] == 4
    assert resources.sampling_threads(0, DEFAULT) == 4
    assert resources.sampling_threads(2000, DEFAULT) == 1
    assert resources.sampling_threads(2000, DEFAULT, refits=17) == 4
