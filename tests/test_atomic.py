"""Atomic writes survive a power cut: the file is synced before the rename and the directory
after it; and JSON never holds NaN (a null with a warning instead)."""

import json
import logging
import math

import numpy as np
import pytest

from replication_ladder.base import atomic


def test_the_file_is_synced_before_the_rename_and_the_directory_after(tmp_path, monkeypatch):
    """Each sync sees the state of the disk: the temporary file synced while the final
    path does not exist yet, then the directory synced once it does."""
    target = tmp_path / "out" / "table.json"
    events = []
    real = atomic.fsync_path

    def spy(path):
        events.append((path, target.exists(), path.read_bytes() if path.is_file() else None))
        real(path)

    monkeypatch.setattr(atomic, "fsync_path", spy)
    atomic.write_json(target, {"a": 1})
    (file_synced, existed_before, content), (dir_synced, existed_after, _) = events
    assert file_synced.name.startswith(".table.json.") and file_synced.suffix == ".part"
    assert not existed_before and json.loads(content) == {"a": 1}  # complete before the rename
    assert dir_synced == target.parent and existed_after
    assert json.loads(target.read_text()) == {"a": 1}


def test_a_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "table.parquet"
    with pytest.raises(RuntimeError), atomic.atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float64("nan")])
def test_non_finite_numbers_become_null_with_a_warning(tmp_path, caplog, bad):
    target = tmp_path / "loso.json"
    with caplog.at_level(logging.WARNING, logger="replication_ladder.base.atomic"):
        atomic.write_json(target, {"sites": [{"elpd_site": bad, "rows": 4}], "max_r_hat": 1.0})
    assert json.loads(target.read_text()) == {
        "sites": [{"elpd_site": None, "rows": 4}],
        "max_r_hat": 1.0,
    }
    assert "sites[0].elpd_site is" in caplog.text and "written as null" in caplog.text


def test_stale_temporaries_of_an_interrupted_write_are_removed(tmp_path):
    stale = tmp_path / ".summary.parquet.abc123.part"
    stale.write_bytes(b"partial")
    atomic.write_text(tmp_path / "summary.parquet", "x")
    assert not stale.exists()
