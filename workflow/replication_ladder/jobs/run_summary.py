"""The few lines a run ends with: what ran, what was reused, the slowest jobs, where the
reports are.

Every job writes its own log (runtime.run_job), ending with '<rule>(<wildcards>) finished
in <s> s'; a job's log is rewritten only when the job runs. So the logs written since the
run started are the jobs it ran, and the others are results it reused. Snakemake's own
summary (`--summary`) lists files, not jobs or their times, and needs a second pass over
the DAG: reading the logs is all this needs.
"""

import re
from collections import Counter
from pathlib import Path

FINISHED = re.compile(
    r"^\S+ \S+ INFO replication_ladder: (?P<job>.+?) finished in (?P<s>[\d.]+) s$"
)
SLOWEST = 3


def finished_in(log: Path) -> tuple[str, float] | None:
    """(job label, seconds) from a job's log, or None if it did not finish."""
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if match := FINISHED.match(line):
            return match["job"], float(match["s"])
    return None


def job_logs(logs: Path, since: float) -> tuple[list[tuple[str, float]], int]:
    """(the jobs that finished since `since`, with their seconds; how many logs are older)."""
    ran, reused = [], 0
    for log in sorted(logs.rglob("*.log")):
        if log.stat().st_mtime < since:
            reused += 1
        elif (job := finished_in(log)) is not None:
            ran.append(job)
    return ran, reused


def summary_lines(ran: list[tuple[str, float]], reused: int, reports: Path) -> list[str]:
    rules = Counter(job.split("(")[0] for job, _ in ran)
    counts = ", ".join(f"{n} {rule}" for rule, n in rules.most_common())
    earlier = f"the results of {_jobs(reused)} from earlier runs"
    lines = [
        f"Ran {_jobs(len(ran))} ({counts}); reused {earlier}."
        if ran
        else f"Nothing ran: {earlier} were up to date."
    ]
    slowest = sorted(ran, key=lambda job: -job[1])[:SLOWEST]
    if slowest:
        lines.append("Slowest: " + "; ".join(f"{job} {seconds:.0f} s" for job, seconds in slowest))
    if reports.exists():
        lines.append(f"Reports: {reports.resolve()}")
    return lines


def _jobs(n: int) -> str:
    return f"{n} job" if n == 1 else f"{n} jobs"


def run_summary(workdir: Path, started: float, reports: str) -> str:
    ran, reused = job_logs(Path(workdir) / "logs", started)
    return "\n".join(summary_lines(ran, reused, Path(workdir) / reports))
