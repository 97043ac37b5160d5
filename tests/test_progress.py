"""Progress on long work: a fit says its phase and, per chain, the draws done and the time
left: as periodic log lines in a job's log, as a line redrawn in place in a terminal."""

import io
import json
import logging
import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from replication_ladder.base import progress
from replication_ladder.base.progress import ChainProgress, Progress
from replication_ladder.jobs import run_summary

from conftest import PIPELINE_SAMPLERS, PIPELINE_THREADS, PROJECT, SMOKE, linked_copy, snakemake


def test_time_left_is_the_rate_so_far_and_quiet_when_it_means_nothing():
    """Closed form: 50 of 200 draws in 10 s leaves 150 draws at 5 per second, 30 s."""
    assert progress.time_left(10.0, 50, 200) == ", about 30 s left"
    assert progress.time_left(600.0, 100, 400) == ", about 30 min left"
    assert progress.time_left(1.0, 1, 1000) == ""  # under 2%: the first draws say little
    assert progress.time_left(5.0, 200, 200) == ""
    line = progress.chains_line([ChainProgress(300, 600, True), ChainProgress(600, 600, False)], 9)
    assert line == "chain 1 300/600 (tuning), chain 2 600/600; 75%, about 3 s left"


def test_in_a_log_progress_is_a_line_per_interval_and_the_last_one(caplog):
    """A job's log gets the phase, then at most one line per interval, and always the
    line that says the work is done: not one line per draw."""
    stream = io.StringIO()  # not a terminal: log lines
    reporter = Progress("rrr/ordinal", stream=stream, interval=3600)
    with caplog.at_level(logging.INFO, logger="replication_ladder.base.progress"):
        reporter.phase("sampling with nutpie")
        for done in range(0, 1001, 10):
            reporter.chains([ChainProgress(done, 1000, done < 500)] * 2)
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "rrr/ordinal: sampling with nutpie (0 s in)",
        "rrr/ordinal: sampling with nutpie chain 1 0/1000 (tuning), chain 2 0/1000 (tuning); 0%",
        "rrr/ordinal: sampling with nutpie chain 1 1000/1000, chain 2 1000/1000; 100%",
    ]
    assert stream.getvalue() == ""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_in_a_terminal_progress_redraws_one_line_and_ends_it():
    terminal = Terminal()
    reporter = Progress("sbc rrr/fixed batch 0", stream=terminal, interval=0)
    reporter.phase("fitting replicates")
    for done in (1, 2):
        reporter.steps(done, 2, "replicates")
    reporter.phase("writing")
    text = terminal.getvalue()
    assert text.count("\r") == 2 and text.endswith("2/2 replicates\x1b[K\n")
    assert "\rsbc rrr/fixed batch 0: fitting replicates 1/2 replicates" in text


def _run_in_a_terminal(code: str, *args: str) -> str:
    """Run `python -c code args` with stderr and stdout on a pseudo-terminal; its output."""
    main, child = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(PROJECT / "workflow")}
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=child, stderr=child, env=env, cwd=PROJECT
    )
    os.close(child)
    chunks = []

    def read():
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the child closed the terminal
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    assert process.wait(timeout=900) == 0, b"".join(chunks).decode(errors="replace")[-3000:]
    reader.join(timeout=30)
    os.close(main)
    return b"".join(chunks).decode(errors="replace")


TERMINAL_FIT = """
import logging, sys
sys.path.insert(0, "tests")
from conftest import SMOKE, config_copy, mirror_dir
from replication_ladder.base import paths
from replication_ladder.config import Ladder
from replication_ladder.models.fit import fit_rung
from replication_ladder.data.validation import process
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
out = sys.argv[1]
ladder = Ladder(config_copy())
table, _ = process(mirror_dir() / "rrr_long.csv", ladder.data_spec("rrr"))
table.to_parquet(f"{out}/rrr.parquet")
spec = ladder.model_spec("rrr", "fixed")
spec["sampling"] = {**spec["sampling"], **SMOKE}
fit = paths.at(paths.FIT, dataset="d", model="m")
outputs = {key: f"{out}/{name}" for key, name in fit.items()}
fit_rung(spec, f"{out}/rrr.parquet", outputs, cores=2, settings=ladder.fit_settings())
"""


@pytest.mark.sampling
def test_a_fit_shows_its_progress_in_a_terminal(rrr_mirror, tmp_path):
    """The RRR's fixed rung, fitted in a real pseudo-terminal: its phases in order, and
    its chains' draws redrawn in place ('\\r') up to 100%. Every rung reports through the
    same code; this one compiles in seconds where the ordinal rung took 3 minutes of CI."""
    output = _run_in_a_terminal(TERMINAL_FIT, str(tmp_path))
    phases = re.findall(r"replication_ladder\.base\.progress: rrr/fixed: ([a-z ]+?) \(", output)
    assert phases[:3] == ["building", "compiling for nutpie", "sampling with nutpie"]
    assert phases[-1] == "writing"
    redrawn = re.findall(r"\rrrr/fixed: sampling with nutpie chain 1 (\d+)/(\d+)", output)
    assert redrawn and redrawn[-1] == (str(SMOKE["tune"] + SMOKE["draws"]),) * 2, output[-2000:]
    assert "100%\x1b[K\n" in output or "100%\x1b[K\r\n" in output


@pytest.mark.workflow
def test_every_fit_log_of_the_pipeline_says_its_phases_and_its_chains(pipeline):
    """Snakemake jobs write to a log file, not a terminal: each fit's log names its
    phases and ends sampling with every chain's draws done, for nutpie and PyMC alike."""
    logs = sorted((pipeline / "logs/fit").glob("*/*.log"))
    assert len(logs) >= len(PIPELINE_SAMPLERS)
    for log in logs:
        fit = "/".join(log.with_suffix("").parts[-2:])
        text = log.read_text()
        for phase in ("building", "sampling with ", "writing"):
            assert f"replication_ladder.base.progress: {fit}: {phase}" in text, (log, phase)
        done = re.findall(rf"{fit}: sampling with \w+ (chain 1 (\d+)/(\d+).*); 100%$", text, re.M)
        assert done and done[-1][1] == done[-1][2], (log, done)
        assert "\r" not in text


@pytest.mark.workflow
def test_every_report_log_of_the_pipeline_counts_its_cells(pipeline):
    """A report job's log names the notebook's execution and its HTML, and its last count
    of cells done is every cell of the executed notebook (papermill's injected
    parameters included)."""
    logs = sorted((pipeline / "logs/report").glob("*.log"))
    assert logs
    for log in logs:
        dataset, text = log.stem, log.read_text()
        notebook = json.loads((pipeline / f"reports/{dataset}.ipynb").read_text())
        assert f"progress: {dataset}.html: executing the notebook" in text, log
        counts = re.findall(rf"{dataset}\.html: executing the notebook (\d+)/(\d+) cells", text)
        assert counts[-1] == (str(len(notebook["cells"])),) * 2, (log, counts)
        assert f"progress: {dataset}.html: writing the HTML" in text, log


def _job_log(path: Path, label: str, seconds: float | None, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"=== attempt 1 of {label} ==="]
    if seconds is not None:
        lines.append(
            f"2026-12-03 20:36:28,957 INFO replication_ladder: {label} finished in {seconds} s"
        )
    path.write_text("\n".join(lines) + "\n")
    os.utime(path, (mtime, mtime))


def test_the_run_summary_counts_jobs_by_their_logs(tmp_path):
    """Jobs whose logs were written since the start ran (a killed one, with no finishing
    line, is not counted); older logs are results reused."""
    started = 1_000_000.0
    _job_log(
        tmp_path / "logs/fit/rrr/fixed.log", "fit(dataset=rrr, model=fixed)", 61.5, started + 5
    )
    _job_log(
        tmp_path / "logs/fit/rrr/ordinal.log", "fit(dataset=rrr, model=ordinal)", 250.0, started + 9
    )
    _job_log(
        tmp_path / "logs/loo/rrr/fixed.log", "loo(dataset=rrr, model=fixed)", 4.2, started + 70
    )
    _job_log(
        tmp_path / "logs/loo/rrr/ordinal.log", "loo(dataset=rrr, model=ordinal)", None, started + 80
    )
    _job_log(tmp_path / "logs/fetch_data/rrr.log", "fetch_data(dataset=rrr)", 1.0, started - 100)
    assert run_summary.run_summary(tmp_path, started, "reports/index.html").splitlines() == [
        "Ran 3 jobs (2 fit, 1 loo); reused the results of 1 job from earlier runs.",
        "Slowest: fit(dataset=rrr, model=ordinal) 250 s; fit(dataset=rrr, model=fixed) 62 s; "
        "loo(dataset=rrr, model=fixed) 4 s",
    ]


@pytest.mark.workflow
def test_a_run_ends_with_its_summary(pipeline, tmp_path):
    """`make run`'s last lines: the one job forced to run, every other job's results
    reused, and the path of the reports' index."""
    copy = linked_copy(pipeline, tmp_path / "run")
    jobs = len(list((copy / "logs").rglob("*.log")))
    result = snakemake(copy, "--forcerun", "report_index", *PIPELINE_THREADS)
    output = result.stdout + result.stderr
    assert f"Ran 1 job (1 report_index); reused the results of {jobs - 1} jobs" in output
    assert "Slowest: report_index() " in output
    assert f"Reports: {(copy / 'reports/index.html').resolve()}" in output
