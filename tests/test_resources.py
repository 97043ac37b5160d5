"""Cluster resources sized from the data and draws, growing with each retry."""

import pandas as pd

from replication_ladder import resources

QUICK = {"draws": 400, "tune": 400, "chains": 2}
DEFAULT = {"draws": 1000, "tune": 1000, "chains": 4}


def test_rows_come_from_the_parquet_footer_and_are_zero_before_the_data_exist(tmp_path):
    table = tmp_path / "table.parquet"
    assert resources.rows_in(table) == 0
    pd.DataFrame({"x": range(6907)}).to_parquet(table)
    assert resources.rows_in(table) == 6907


def test_memory_and_time_grow_with_rows_draws_and_attempts():
    rrr = resources.fit_mem_mb(6907, DEFAULT)
    # 900 MB, plus 6907 rows x 4000 draws x 8 bytes = 221 MB of log-likelihood thrice.
    assert rrr == 1564
    assert resources.fit_mem_mb(100, DEFAULT) < rrr
    assert resources.fit_mem_mb(6907, QUICK) < rrr
    assert resources.fit_mem_mb(6907, DEFAULT, attempt=2) == 3127  # twice, rounded up once
    assert resources.loo_mem_mb(6907, DEFAULT) > rrr
    assert resources.fit_runtime(100, QUICK) == 11  # the floor of 10 minutes, rounded up
    assert resources.fit_runtime(6907, DEFAULT, attempt=3) > 3 * resources.fit_runtime(100, QUICK)
