"""Process set-up shared by every Snakemake job: threads, compile cache, log, errors.

Each rule's script (workflow/scripts/<rule>.py) calls `run_job(snakemake, "<rule>")`, which
runs the rule's entry function, `ENTRY_POINTS[<rule>]`: rule, script and function share a
name. The script names it because the job's rule may be renamed (`use rule * from ladder
as ladder_*` in a workflow that uses this one as a module).
The environment is set before the entry module (and with it numpy, PyTensor or Numba)
is imported, because thread pools and compile flags are read at import time.

A job retried by Snakemake (the cluster profile retries twice, with more memory and
time) keeps the earlier attempts' lines in its log. Snakemake deletes a job's log before
every attempt, so the lines live in a history file beside it (`.<log name>.attempts`)
and the log is a second name (a hard link) for that file: an attempt killed by the
scheduler loses nothing, and the next attempt appends to what is there. A failure a retry cannot
fix (a config or data error, a fit that did not converge under strict_convergence) is
marked in the log; the next attempt sees the mark and fails at once, naming it, instead
of computing the same failure again.
"""

import importlib
import logging
import os
import sys
import time
from pathlib import Path

from replication_ladder.base.errors import LadderError

log = logging.getLogger("replication_ladder")

# rule -> "module:function": each rule's job is replication_ladder.jobs.<rule>:<rule>
# (tests/test_structure.py checks that rule, script, module and function agree).
ENTRY_POINTS = {
    "fetch_data": "replication_ladder.jobs.fetch_data:fetch_data",
    "simulate_data": "replication_ladder.jobs.simulate_data:simulate_data",
    "validate_data": "replication_ladder.jobs.validate_data:validate_data",
    "site_estimates": "replication_ladder.jobs.site_estimates:site_estimates",
    "prior_predictive": "replication_ladder.jobs.prior_predictive:prior_predictive",
    "fit": "replication_ladder.jobs.fit:fit",
    "diagnostics_table": "replication_ladder.jobs.diagnostics_table:diagnostics_table",
    "loo": "replication_ladder.jobs.loo:loo",
    "compare": "replication_ladder.jobs.compare:compare",
    "recovery": "replication_ladder.jobs.recovery:recovery",
    "recovery_table": "replication_ladder.jobs.recovery_table:recovery_table",
    "replication": "replication_ladder.jobs.replication:replication",
    "model_averaging": "replication_ladder.jobs.model_averaging:model_averaging",
    "design_analysis": "replication_ladder.jobs.design_analysis:design_analysis",
    "loso": "replication_ladder.jobs.loso:loso",
    "loso_table": "replication_ladder.jobs.loso_table:loso_table",
    "new_rows": "replication_ladder.jobs.new_rows:new_rows",
    "predict": "replication_ladder.jobs.predict:predict",
    "sbc": "replication_ladder.jobs.sbc:sbc",
    "sbc_ranks": "replication_ladder.jobs.sbc_ranks:sbc_ranks",
    "report": "replication_ladder.jobs.report:report",
    "sbc_report": "replication_ladder.jobs.sbc_report:sbc_report",
    "report_index": "replication_ladder.jobs.report_index:report_index",
}

_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMBA_NUM_THREADS",
)
# Written at the end of a log by a failure that a retry would only repeat.
DETERMINISTIC = "replication_ladder: a retry cannot fix this failure:"


def entry_module(rule: str) -> str:
    return ENTRY_POINTS[rule].split(":")[0]


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


def attempt_of(snakemake) -> int:
    """Which attempt this is (1 unless Snakemake retries; rules pass it as a resource)."""
    return int(getattr(snakemake.resources, "attempt", 1) or 1)


def attempts_file(log_path: Path) -> Path:
    """The history of every attempt's lines, which Snakemake does not delete."""
    return log_path.with_name(f".{log_path.name}.attempts")


def previous_failure(log_path: Path) -> str | None:
    """The message of a deterministic failure the previous attempt marked in the log."""
    history = attempts_file(log_path)
    if not history.exists():
        return None
    for line in reversed(history.read_text(errors="replace").splitlines()):
        if line.startswith(DETERMINISTIC):
            return line[len(DETERMINISTIC) :].strip()
        if line.startswith("=== attempt "):
            return None
    return None


def _redirect_output(log_path: Path, attempt: int):
    """Send fd 1 and 2 (Python and native libraries alike) to the job's log file: a
    fresh history for a first attempt, appended to for a retry, and the log another
    name for it.

    Returns a handle on the original stderr for the one-line error the user sees.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    terminal = os.fdopen(os.dup(2), "w", buffering=1)
    sys.stdout.flush()
    sys.stderr.flush()
    history = attempts_file(log_path)
    mode = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if attempt > 1 else os.O_TRUNC)
    fd = os.open(history, mode, 0o644)
    log_path.unlink(missing_ok=True)
    os.link(history, log_path)
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


def run_job(snakemake, rule: str) -> None:
    """Run `rule`'s entry function (called with the snakemake object) as a job."""
    # From the config, not params: moving the cache must not rerun anything.
    configure_environment(snakemake.threads, snakemake.config.get("compile_cache"))
    attempt = attempt_of(snakemake)
    log_path = Path(snakemake.log[0]) if snakemake.log else None
    earlier = previous_failure(log_path) if log_path is not None and attempt > 1 else None
    terminal = _redirect_output(log_path, attempt) if log_path is not None else sys.stderr
    label = f"{snakemake.rule}({', '.join(f'{k}={v}' for k, v in snakemake.wildcards.items())})"
    print(f"=== attempt {attempt} of {label} ===", flush=True)
    if earlier is not None:
        message = f"{earlier} (attempt {attempt} not run: attempt {attempt - 1} failed alike)"
        log.error("%s", message)
        print(f"{DETERMINISTIC} {earlier}", flush=True)
        print(f"{label}: {message}", file=terminal)
        sys.exit(1)
    module_name, function_name = ENTRY_POINTS[rule].split(":")
    started = time.perf_counter()
    try:
        function = getattr(importlib.import_module(module_name), function_name)
        function(snakemake)
    except LadderError as error:
        log.error("%s", error)
        print(f"{DETERMINISTIC} {error}", flush=True)
        print(f"{label}: {error}", file=terminal)
        sys.exit(1)
    log.info("%s finished in %.1f s", label, time.perf_counter() - started)
