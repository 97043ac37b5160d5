"""Shared fixtures: the project, the offline RRR mirror, copies of the workflow to run."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
# Shared by every test run, like a user's own runs: fits compile once per machine.
COMPILE_CACHE = PROJECT / ".cache" / "pytensor"
RRR_SHA256 = "66fc4acb116fedfba86e3b4826aa516e2cb4a95919ded846a61d0a4fea054da4"


def mirror_dir() -> Path:
    """The offline copy of the RRR file (../shared/data beside the project by default)."""
    return Path(os.environ.get("LADDER_RRR_MIRROR", PROJECT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def rrr_mirror() -> Path:
    path = mirror_dir()
    if not (path / "rrr_long.csv").is_file():
        pytest.fail(
            f"the RRR mirror {path}/rrr_long.csv is missing: put a copy of the RRR file "
            "there or point LADDER_RRR_MIRROR at a directory holding rrr_long.csv"
        )
    return path


def copy_workflow(dest: Path) -> Path:
    """A runnable copy of the workflow: Snakefile, config, workflow/, environment.yml."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "environment.yml"):
        shutil.copy2(PROJECT / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("config", "workflow"):  # copy2 keeps mtimes: a reused copy stays up to date
        shutil.copytree(PROJECT / name, dest / name, ignore=ignore, dirs_exist_ok=True)
    return dest


@pytest.fixture
def workflow_copy(tmp_path: Path) -> Path:
    return copy_workflow(tmp_path / "workflow-copy")


def snakemake(
    workdir: Path,
    *args: str,
    config: dict | None = None,
    check: bool = True,
    timeout: float = 1800,
    env: dict | None = None,
) -> subprocess.CompletedProcess:
    """Run Snakemake in `workdir`; `config` entries become one --config option."""
    settings = {"compile_cache": str(COMPILE_CACHE), **(config or {})}
    command = [
        *SNAKEMAKE,
        "--workflow-profile",
        "none",
        "--cores",
        "2",
        *args,
        # Last: --config takes every following word as a key=value pair.
        "--config",
        *(f"{key}={value}" for key, value in settings.items()),
    ]
    result = subprocess.run(
        command,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
        )
    return result


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory, rrr_mirror) -> Path:
    """The whole default pipeline, run once for the session on the quick preset (short
    chains: the plumbing more than the numbers), with leave-one-site-out on for a
    multisite dataset of 6 sites (18 refits rather than the 51 of 17 sites).

    LADDER_TEST_PIPELINE=<dir> keeps the run in <dir> and reuses it while it is up to
    date (Snakemake decides), for quicker rounds of tests while developing."""
    kept = os.environ.get("LADDER_TEST_PIPELINE")
    workdir = Path(kept) if kept else tmp_path_factory.mktemp("pipeline") / "workflow-copy"
    copy_workflow(workdir)
    snakemake(
        workdir, config={"preset": "quick", "mirror": rrr_mirror, "datasets": PIPELINE_DATASETS}
    )
    return workdir


PIPELINE_DATASETS = "{multisite: {loso: true, source: {params: {sites: 6}}}}"
