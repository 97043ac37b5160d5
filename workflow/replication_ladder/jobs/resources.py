"""Cluster resources of the heavy jobs, from the size of their data and draws.

A fit's memory is the interpreter with PyMC, Bambi and the compiled model, what grows
with its rows (the data, Bambi's design, the graph's per-row values), and its draws of
every parameter; the pointwise log-likelihood (rows x draws) is computed a block at a
time and never held whole (models.pointwise). A LOO job with a remedy to run reads the
whole log-likelihood back. Time grows with the sampling work
and with the refits a job runs (leave-one-site-out, a LOO remedy, a calibration batch).
Both grow with each retry (`attempt`), so a job killed for memory or time comes back
with more.
"""

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

BASE_MB = 900  # interpreter, PyMC/Bambi/nutpie, the compiled model (measured: 500-700)
MINUTES = 10  # the smallest runtime worth asking a scheduler for
# One core's nutpie sampling per row-iteration: the RRR's random slope, 6.1 s for 6,907
# rows x 8,000 iterations (its fixed rung: 1.2 s; its random intercept: 3.9 s). Group
# levels make each row-iteration dearer: the participant rung's 1,745 levels, 24.9 s, 4.1
# times the random slope's 17 (docs/operations.md, "Threads").
ROW_ITERATION_SECONDS = 1.1e-7
LEVELS_DOUBLING_COST = 560


@dataclass(frozen=True)
class DataSize:
    """What a rung's cost grows with: the rows it is fitted to, and the levels of its
    group-level factors (a parameter or more each: the RRR's 1,728 participant
    intercepts, its 17 labs' intercepts and slopes)."""

    rows: int
    levels: int = 0


def data_size(parquet: str | Path, factors: Iterable[str] = ()) -> DataSize:
    """The rows of a processed table, from its Parquet footer, and the levels of the
    given columns it has, reading those columns only. Zero while the table does not exist yet (a
    dry run, or a DAG built before the data stage ran): Snakemake evaluates resources
    again, with the input present, just before it submits the job."""
    import pyarrow.parquet as pq

    if not Path(parquet).exists():
        return DataSize(0)
    footer = pq.ParquetFile(parquet)
    rows = footer.metadata.num_rows
    factors = sorted(set(factors) & set(footer.schema_arrow.names))
    if not factors:
        return DataSize(rows)
    table = pq.read_table(parquet, columns=factors)
    return DataSize(rows, sum(len(table[f].unique()) for f in factors))


def sites_in(record: str | Path) -> int:
    """Sites of a validated dataset, from its record (0 before it exists)."""
    if not Path(record).exists():
        return 0
    return len(json.loads(Path(record).read_text()).get("site_levels") or [])


def log_likelihood_mb(rows: int, sampling: dict) -> float:
    return rows * sampling["draws"] // sampling.get("thin", 1) * sampling["chains"] * 8 / 1e6


# What a fit holds per row at its peak, blocks of rows x draws included: the RRR copied
# 16 times (108,456 rows), its random slope 1.5 GB and its fixed rung 0.86 GB
# (docs/benchmarks.md, 7 December 2026).
ROW_MB = 0.01


def draws_mb(size: DataSize, sampling: dict) -> float:
    """The kept draws of every parameter: a value and its non-centred offset per group
    level, and a few dozen common parameters."""
    kept = sampling["draws"] // sampling.get("thin", 1) * sampling["chains"]
    return (2 * size.levels + 50) * kept * 8 / 1e6


def fit_mem_mb(size: DataSize, sampling: dict, attempt: int = 1, refits: int = 0) -> int:
    """Peak memory of a fit: the draws are held about three times over at the peak (the
    sampler's, the posterior's, the summary's). Refits run one after another and need no
    more."""
    fit = BASE_MB + ROW_MB * size.rows + 3 * draws_mb(size, sampling)
    return math.ceil(fit * attempt)


def sampling_seconds(size: DataSize, sampling: dict, refits: int = 0) -> float:
    """One core's sampling time, estimated from rows x iterations x chains, dearer with
    each group level, once for the fit and once per refit."""
    work = size.rows * (sampling["draws"] + sampling["tune"]) * sampling["chains"]
    per_level = 1 + size.levels / LEVELS_DOUBLING_COST
    return (1 + refits) * ROW_ITERATION_SECONDS * work * per_level


def fit_runtime(size: DataSize, sampling: dict, attempt: int = 1, refits: int = 0) -> int:
    """Minutes: compilation, then sampling with a margin of ten over the estimate."""
    return math.ceil((MINUTES + 10 * sampling_seconds(size, sampling, refits) / 60) * attempt)


# Below this estimate of one core's sampling (about what compiling a rung costs), a fit's
# time is compiling and Python, which use one core: on one thread, two such fits run side
# by side. Measured: the synthetic datasets' reports on 2 cores in 126 s, against 169 s
# with a thread per chain (docs/operations.md).
LIGHT_SAMPLING_SECONDS = 10


def sampling_threads(size: DataSize, sampling: dict, attempt: int = 1, refits: int = 0) -> int:
    """A thread per chain where sampling is the work; one where it is not. A thread per
    chain while the rows are unknown (a dry run before the data stage): Snakemake asks
    again, with the data there, before it runs the job. The draws are the same either
    way (tests/test_rungs.py)."""
    if size.rows and sampling_seconds(size, sampling, refits) < LIGHT_SAMPLING_SECONDS:
        return 1
    return sampling["chains"]


def longest_first(size: DataSize, sampling: dict, attempt: int = 1, refits: int = 0) -> float:
    """A job's scheduling priority: its estimated sampling seconds, so that the longest
    start first and a long one does not end a run alone on one core while the other
    idles (longest processing time first). 0 while the rows are unknown."""
    return sampling_seconds(size, sampling, refits)


def loo_mem_mb(size: DataSize, sampling: dict, attempt: int = 1, refits: int = 0) -> int:
    """A loo job without a remedy to run reads its fit's PSIS table only. One with a
    remedy holds the log-likelihood, its smoothed weights and a sorted copy, and a fit's
    memory besides for the refits it may run."""
    if not refits:
        return math.ceil(BASE_MB * attempt)
    loo = BASE_MB + 4 * log_likelihood_mb(size.rows, sampling)
    loo += fit_mem_mb(size, sampling) - BASE_MB
    return math.ceil(loo * attempt)
