"""Where a result came from: package versions and the git state of the workflow.

Recorded beside every result (diagnostics files, reports), so a number can be traced to
the code, the versions and the data that produced it.
"""

import functools
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGES = (
    "pymc",
    "pytensor",
    "bambi",
    "formulae",
    "arviz",
    "arviz-base",
    "arviz-stats",
    "nutpie",
    "numba",
    "numpy",
    "scipy",
    "pandas",
    "xarray",
    "h5netcdf",
    "snakemake",
)
# Where the package was installed from in editable mode: the checkout, by default.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def versions() -> dict[str, str | None]:
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


def _git(root: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


@functools.cache
def git_state(root: Path) -> dict:
    """The commit of the workflow checkout at `root` and whether tracked files differ from
    it (None outside a checkout)."""
    commit = _git(root, "rev-parse", "HEAD")
    status = _git(root, "status", "--porcelain", "--untracked-files=no") if commit else None
    return {"git_commit": commit, "git_dirty": None if commit is None else bool(status)}


def collect(workflow_root: Path = PACKAGE_ROOT) -> dict:
    """Versions, the git state of the workflow that ran, and the SLURM job if any."""
    return {
        **git_state(Path(workflow_root).resolve()),
        "versions": versions(),
        "platform": platform.platform(),
        # Set when the job runs under SLURM: traces a result to its cluster job.
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
    }
