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
        # More than the 2 cores of the CI machine: jobs compile single-threaded, so two
        # fits side by side keep both cores busy. Results do not depend on it.
        "--cores",
        "4",
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


def clone_workflow(dest: Path) -> Path:
    """A git clone of the project with the working tree's workflow files laid over it, so
    it runs what is being tested (and records the commit, dirty when they differ)."""
    if not (dest / ".git").exists():
        subprocess.run(["git", "clone", "--quiet", str(PROJECT), str(dest)], check=True)
    return copy_workflow(dest)


# The session's runs: the quick preset with leave-one-site-out on for a multisite
# dataset of 4 sites (12 refits rather than the 51 of 17 sites).
PIPELINE_CONFIG = {
    "preset": "quick",
    "datasets": "{multisite: {loso: true, source: {params: {sites: 4}}}}",
}
LOSO_SITES = 4


def pipeline_config(rrr_mirror: Path) -> dict:
    return {**PIPELINE_CONFIG, "mirror": rrr_mirror}


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory, rrr_mirror) -> Path:
    """The whole pipeline, run once for the session in a clone of the project (quick
    preset: the plumbing more than the numbers).

    LADDER_TEST_PIPELINE=<dir> keeps the run in <dir> and reuses it while it is up to
    date (Snakemake decides), for quicker rounds of tests while developing."""
    kept = os.environ.get("LADDER_TEST_PIPELINE")
    workdir = Path(kept) if kept else tmp_path_factory.mktemp("pipeline") / "clone"
    clone_workflow(workdir)
    snakemake(workdir, config=pipeline_config(rrr_mirror))
    return workdir


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """A real one-node SLURM cluster on loopback, for the session."""
    from slurm_cluster import local_slurm

    with local_slurm(tmp_path_factory.mktemp("slurm")) as env:
        yield env


# Without slurmdbd, `sacct` cannot answer and the plugin would wait for ever: job status
# comes from squeue (MinJobAge keeps finished jobs visible), and every run is wrapped in
# a timeout that kills it.
SLURM = [
    "--workflow-profile",
    "workflow/profiles/slurm",
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--jobs",
    "4",
]


@pytest.fixture(scope="session")
def slurm_pipeline(tmp_path_factory, cluster, rrr_mirror):
    """The same pipeline as `pipeline`, in another clone, through SLURM: (dir, output)."""
    import time

    workdir = clone_workflow(tmp_path_factory.mktemp("slurm-pipeline") / "clone")
    started = time.monotonic()
    result = snakemake(
        workdir, *SLURM, config=pipeline_config(rrr_mirror), env=cluster, timeout=3000
    )
    return workdir, result.stdout + result.stderr, time.monotonic() - started
