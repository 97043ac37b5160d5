"""Where a long job is: its phase, draws done per chain and the time left.

A job's stderr is its log file (runtime.py), so progress is written as log lines at a
steady rate (every `LADDER_PROGRESS_SECONDS`, 10 by default): a Snakemake log or a SLURM
job's output reads as periodic lines, not a flood. Where stderr is a terminal (a fit
or an SBC batch run by hand), the same line is redrawn in place twice a second.

The samplers' own bars (nutpie's, PyMC's rich bars) draw for a terminal or a notebook
and write nothing useful to a file, so both samplers report through their callbacks
instead: nutpie's `progress_callback` (per-chain PyChainProgress) and PyMC's per-draw
`callback`.
"""

import logging
import os
import sys
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

INTERVAL_VARIABLE = "LADDER_PROGRESS_SECONDS"
TERMINAL_INTERVAL = 0.5


def log_interval() -> float:
    return float(os.environ.get(INTERVAL_VARIABLE, "10"))


@dataclass
class ChainProgress:
    done: int
    total: int
    tuning: bool


def chains_line(chains: list[ChainProgress], elapsed: float) -> str:
    """'chain 1 1200/2000 (tuning), chain 2 ...; 45%, about 30 s left'."""
    done = sum(chain.done for chain in chains)
    total = sum(chain.total for chain in chains)
    parts = [
        f"chain {number} {chain.done}/{chain.total}{' (tuning)' if chain.tuning else ''}"
        for number, chain in enumerate(chains, start=1)
    ]
    return (
        ", ".join(parts) + f"; {100 * done / max(total, 1):.0f}%" + time_left(elapsed, done, total)
    )


def time_left(elapsed: float, done: int, total: int) -> str:
    """', about 30 s left' at the rate so far; nothing before 2% is done (the first
    draws' rate says little) or once all is."""
    if not 0.02 * total <= done < total:
        return ""
    seconds = elapsed * (total - done) / done
    return (
        f", about {seconds:.0f} s left" if seconds < 120 else f", about {seconds / 60:.0f} min left"
    )


class Progress:
    """One job's progress: `phase` opens a phase, `update` reports within it."""

    def __init__(self, what: str, stream=None, interval: float | None = None):
        self.what = what
        self.stream = sys.stderr if stream is None else stream
        self.terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = (
            (TERMINAL_INTERVAL if self.terminal else log_interval())
            if interval is None
            else interval
        )
        self.phase_name = ""
        self.phase_started = self.started = time.monotonic()
        self._last = float("-inf")
        self._pending = False

    def phase(self, name: str) -> None:
        """Start a phase (building, compiling, sampling, writing): one line each."""
        self._end_line()
        now = time.monotonic()
        self.phase_name, self.phase_started, self._last = name, now, float("-inf")
        log.info("%s: %s (%.0f s in)", self.what, name, now - self.started)

    def update(self, detail: str, final: bool = False) -> None:
        """Report `detail` if the interval has passed (always when `final`)."""
        now = time.monotonic()
        if not final and now - self._last < self.interval:
            return
        self._last = now
        line = f"{self.what}: {self.phase_name} {detail}"
        if self.terminal:
            self.stream.write(f"\r{line}\x1b[K")
            self.stream.flush()
            self._pending = True
            if final:
                self._end_line()
        else:
            log.info("%s", line)

    def chains(self, chains: list[ChainProgress]) -> None:
        final = all(chain.done >= chain.total for chain in chains)
        self.update(chains_line(chains, time.monotonic() - self.phase_started), final)

    def steps(self, done: int, total: int, unit: str) -> None:
        """Progress through countable units (SBC replicates, refits)."""
        elapsed = time.monotonic() - self.phase_started
        self.update(f"{done}/{total} {unit}" + time_left(elapsed, done, total), done >= total)

    def _end_line(self) -> None:
        if self._pending:
            self.stream.write("\n")
            self.stream.flush()
            self._pending = False


class NutpieChains:
    """nutpie's progress_callback: a list of PyChainProgress per report."""

    def __init__(self, progress: Progress):
        self.progress = progress

    def __call__(self, chains) -> None:
        self.progress.chains(
            [
                ChainProgress(chain.finished_draws, chain.total_draws, chain.tuning)
                for chain in chains
            ]
        )


class PymcChains:
    """PyMC's per-draw callback (Draw: chain, is_last, draw_idx, tuning, ...)."""

    def __init__(self, progress: Progress, chains: int, draws: int, tune: int):
        self.progress = progress
        self.state = [ChainProgress(0, draws + tune, tune > 0) for _ in range(chains)]

    def __call__(self, trace, draw) -> None:
        chain = self.state[draw.chain]
        chain.done, chain.tuning = draw.draw_idx + 1, bool(draw.tuning)
        self.progress.chains(self.state)
