"""Where a result came from: package versions and the git state of the workflow.

Recorded beside every result (diagnostics files, reports), so a number can be traced to
the code, the versions and the data that produced it.
"""

import functools
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
# The workflow's checkout: the package is installed in editable mode from it.
WORKFLOW_ROOT = Path(__file__).resolve().parents[2]


def versions() -> dict[str, str | None]:
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=WORKFLOW_ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


@functools.cache
def git_state() -> dict:
    """The commit and whether tracked files differ from it (None outside a checkout)."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"git_commit": commit, "git_dirty": None if commit is None else bool(status)}


def collect() -> dict:
    return {**git_state(), "versions": versions(), "platform": platform.platform()}
