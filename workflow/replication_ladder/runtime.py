"""Process set-up shared by every Snakemake script: threads, compile cache, log, errors.

A script calls `run_job(snakemake, "module:function")`. The environment is set before the
module (and with it numpy, PyTensor or Numba) is imported, because thread pools and
compile flags are read at import time.
"""

import importlib
import logging
import os
import sys
import time
from pathlib import Path

from replication_ladder.errors import LadderError

log = logging.getLogger("replication_ladder")

_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMBA_NUM_THREADS",
)


def configure_environment(threads: int, compile_cache: str | os.PathLike | None) -> None:
    """Hold native thread pools to the job's threads and point PyTensor at the cache."""
    for variable in _THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    flags = [os.environ.get("PYTENSOR_FLAGS", "")]
    if compile_cache is not None:
        flags.append(f"base_compiledir={Path(compile_cache).resolve()}")
    # Numba's fastmath lets freshly compiled and cached code round differently, so a
    # cold and a warm run drew different chains from the same seed. Off, they agree bit
    # for bit, for nutpie and PyMC's sampler alike (measured: about 20% slower sampling).
    flags.append("numba__fastmath=False")
    os.environ["PYTENSOR_FLAGS"] = ",".join(flag for flag in flags if flag)


def _redirect_output(log_path: Path):
    """Send fd 1 and 2 (Python and native libraries alike) to the job's log file.

    Returns a handle on the original stderr for the one-line error the user sees.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    terminal = os.fdopen(os.dup(2), "w", buffering=1)
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    logging.captureWarnings(True)
    for chatty in ("pytensor", "arviz"):  # configuration chatter at INFO level
        logging.getLogger(chatty).setLevel(logging.WARNING)
    return terminal


def run_job(snakemake, target: str) -> None:
    """Run `module:function` (called with the snakemake object) as a Snakemake job."""
    # From the config, not params: moving the cache must not rerun anything.
    configure_environment(snakemake.threads, snakemake.config.get("compile_cache"))
    terminal = _redirect_output(Path(snakemake.log[0])) if snakemake.log else sys.stderr
    module_name, function_name = target.split(":")
    started = time.perf_counter()
    label = f"{snakemake.rule}({', '.join(f'{k}={v}' for k, v in snakemake.wildcards.items())})"
    try:
        function = getattr(importlib.import_module(module_name), function_name)
        function(snakemake)
    except LadderError as error:
        log.error("%s", error)
        print(f"{label}: {error}", file=terminal)
        sys.exit(1)
    log.info("%s finished in %.1f s", label, time.perf_counter() - started)
