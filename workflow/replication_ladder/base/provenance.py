"""Where a result came from: package versions, the git state of the workflow, and what
decides whether a rerun gives the same bits (the CPU's instruction sets, the BLAS and its
core type, thread counts).

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
    "llvmlite",
    "numpy",
    "scipy",
    "pandas",
    "xarray",
    "h5netcdf",
    "snakemake",
)
# Where the package was installed from in editable mode: the checkout, by default.
PACKAGE_ROOT = Path(__file__).resolve().parents[3]
# Instruction sets that change floating point results (vector widths, fused multiply-add).
CPU_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512dq", "avx512vl", "neon", "asimd")


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


@functools.cache
def cpu() -> dict:
    """The CPU model and the instruction sets that decide rounding in compiled kernels."""
    model, flags = platform.processor() or None, set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and not model:
                model = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = set(value.split())
    return {"model": model, "flags": sorted(flags & set(CPU_FLAGS)), "count": os.cpu_count()}


def blas() -> dict:
    """NumPy's BLAS and the core type it dispatches to (OpenBLAS picks kernels per core)."""
    import numpy as np

    try:
        config = np.show_config(mode="dicts")
        info = config.get("Build Dependencies", {}).get("blas", {})
    except (TypeError, AttributeError):
        info = {}
    found = {"name": info.get("name"), "version": info.get("version")}
    try:
        from threadpoolctl import threadpool_info

        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            found["core_type"] = pools[0].get("architecture")
            found["threads"] = pools[0].get("num_threads")
    except ImportError:
        pass
    return found


def collect(workflow_root: Path = PACKAGE_ROOT, threads: int | None = None) -> dict:
    """Versions, the git state of the workflow that ran, the SLURM job if any, and what
    bit-for-bit reproduction depends on."""
    return {
        **git_state(Path(workflow_root).resolve()),
        "versions": versions(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu(),
        "blas": blas(),
        "threads": threads,
        "numba_threads": os.environ.get("NUMBA_NUM_THREADS"),
        # Set when the job runs under SLURM: traces a result to its cluster job.
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
    }
