"""Shared fixtures: the project, the offline RRR mirror, copies of the workflow to run, the
one pipeline run every test that only reads outputs shares, and the SLURM cluster.

Tiers (quick, sampling, workflow, slurm, browser) are enforced by tests/tiers.py.
"""

import copy
import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config

pytest_plugins = ["tiers"]

PROJECT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
# The shared pipeline's run (LADDER_TEST_PIPELINE: kept there, and reused while up to
# date) and its compile cache, which its build fills from empty (`make test`: a new one).
KEPT_PIPELINE = os.environ.get("LADDER_TEST_PIPELINE")
PIPELINE_CACHE = Path(".cache") / "pytensor"
# Shared by every test run, like a user's own runs: fits compile once per machine. With a
# kept pipeline, its cache: the suite compiles cold once, in the pipeline's build.
COMPILE_CACHE = (
    Path(KEPT_PIPELINE).resolve() / PIPELINE_CACHE if KEPT_PIPELINE else PROJECT / PIPELINE_CACHE
)

# Tests that fit in this process compile into the same cache as the workflow's jobs, with
# the jobs' flags (one thread each: the test workers share two cores).
from replication_ladder.jobs.runtime import configure_environment  # noqa: E402

configure_environment(1, COMPILE_CACHE)
from replication_ladder.base.atomic import write_json  # noqa: E402

RRR_SHA256 = "66fc4acb116fedfba86e3b4826aa516e2cb4a95919ded846a61d0a4fea054da4"
CONFIG = yaml.safe_load((PROJECT / "config" / "config.yaml").read_text())
# The global seed of every test that samples: LADDER_TEST_SEED=N reruns them under
# another (the seed sweep of the README's "Reproducibility").
SEED = int(os.environ.get("LADDER_TEST_SEED", CONFIG["seed"]))
CONFIG["seed"] = SEED
# The smoke preset's sampling: what a quick test may sample (tests/tiers.py enforces it).
SMOKE = CONFIG["presets"]["smoke"]["sampling"]


def config_copy() -> dict:
    return copy.deepcopy(CONFIG)


def mirror_dir() -> Path:
    """The offline copy of the RRR file (../shared/data beside the project by default)."""
    return Path(os.environ.get("LADDER_RRR_MIRROR", PROJECT.parent / "shared" / "data"))


def missing_mirror() -> str | None:
    """What to do when the offline RRR file is not there (None when it is)."""
    path = mirror_dir()
    if (path / "rrr_long.csv").is_file():
        return None
    return (
        f"the RRR mirror {path}/rrr_long.csv is missing: put a copy of the RRR file "
        "there or point LADDER_RRR_MIRROR at a directory holding rrr_long.csv"
    )


@pytest.fixture(scope="session")
def rrr_mirror() -> Path:
    if problem := missing_mirror():
        pytest.fail(problem)
    return mirror_dir()


@pytest.fixture(scope="session")
def rrr_table(rrr_mirror):
    """The RRR, validated as the workflow validates it."""
    from replication_ladder.config import Ladder
    from replication_ladder.data.validation import process

    table, _ = process(rrr_mirror / "rrr_long.csv", Ladder(config_copy()).data_spec("rrr"))
    return table


def copy_workflow(dest: Path) -> Path:
    """A runnable copy of the workflow: Snakefile, config, workflow/, .test/,
    environment.yml. Its jobs run its own copy of the package (the scripts put it first on
    the path)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "environment.yml"):
        shutil.copy2(PROJECT / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in (
        "config",
        "workflow",
        ".test",
    ):  # copy2 keeps mtimes: a reused copy stays up to date
        shutil.copytree(PROJECT / name, dest / name, ignore=ignore, dirs_exist_ok=True)
    return dest


@pytest.fixture
def workflow_copy(tmp_path: Path) -> Path:
    return copy_workflow(tmp_path / "workflow-copy")


# The tests' workflow runs sample with PyMC's own NUTS unless a test names its sampler.
# Warm, nutpie is faster (nutpie_cache.py: a smoke multisite random-slope fit 5.5-6 s
# against 13-18 s), but every CI run starts from an empty compile cache, where nutpie
# compiles each distinct model's callbacks (6-14 s) and PyTensor's C code serves PyMC's
# NUTS for all: the full CI took 17 min 57 s with nutpie against 16 min 29 s (6 December
# 2026). The shared pipeline fits one rung with nutpie, rerun warm against the cold build
# bit for bit, and the sampling tier checks nutpie's draws against PyMC's.
TEST_SAMPLER = "pymc"


def config_words(config: dict | None = None) -> list[str]:
    """`config` as one --config option, with the shared compile cache unless it names
    another and TEST_SAMPLER unless its `sampling` names one (Snakemake merges `sampling`
    into the config file's, key by key). It goes last: --config takes every following
    word as a key=value pair."""
    settings = {"compile_cache": str(COMPILE_CACHE), **(config or {})}
    sampling = {"sampler": TEST_SAMPLER, **yaml.safe_load(str(settings.get("sampling", "{}")))}
    settings["sampling"] = yaml.safe_dump(sampling, default_flow_style=True, width=1000).strip()
    return ["--config", *(f"{key}={value}" for key, value in settings.items())]


def snakemake_command(*args: str, config: dict | None = None) -> list[str]:
    """Snakemake on two cores without a profile, `args` first and `config` last."""
    return [*SNAKEMAKE, "--workflow-profile", "none", "--cores", "2", *args, *config_words(config)]


def snakemake(
    workdir: Path,
    *args: str,
    config: dict | None = None,
    check: bool = True,
    timeout: float = 1800,
    env: dict | None = None,
) -> subprocess.CompletedProcess:
    """Run Snakemake in `workdir`; `config` entries become one --config option."""
    result = subprocess.run(
        snakemake_command(*args, config=config),
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


RUN = PROJECT / "workflow" / "bin" / "run-pipeline"


def run_command(*args: str, config: dict | None = None) -> list[str]:
    """The README's run command (the wrapper `make run` calls), default profile, two cores.
    Targets and options first: `config` goes last, as one --config (it takes every
    following word)."""
    return [
        str(RUN),
        *args,
        "--workflow-profile",
        "workflow/profiles/default",
        "--cores",
        "2",
        *config_words(config),
    ]


def new_dataset(*args: str) -> subprocess.CompletedProcess:
    """The scaffold's command line (`make new-dataset`), as installed in the venv."""
    command = [str(Path(sys.executable).parent / "ladder-new-dataset"), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True)


def clone_workflow(dest: Path) -> Path:
    """A git clone of the project with the working tree's workflow files laid over it, so
    it runs what is being tested (and records the commit, dirty when they differ)."""
    if not (dest / ".git").exists():
        subprocess.run(["git", "clone", "--quiet", str(PROJECT), str(dest)], check=True)
    return copy_workflow(dest)


def write_config(workdir: Path, config: dict) -> None:
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


# The shared run, for every test that only reads outputs: the tests' config
# (.test/config.yaml) over the project's, merged as Snakemake merges a --configfile, and
# fits one thread each so that two compile side by side on two cores. It is built on an
# empty compile cache of its own (PIPELINE_CACHE, in its directory): its first fits race
# to fill it (test_hardening checks the race).
TEST_CONFIG = yaml.safe_load((PROJECT / ".test" / "config.yaml").read_text())
PIPELINE_RUNGS = TEST_CONFIG["only"]
# One rung with each sampler, the rest with TEST_SAMPLER's.
PIPELINE_SAMPLERS = {
    f"{dataset}/{model}": settings["sampling"]["sampler"]
    for dataset, spec in TEST_CONFIG["datasets"].items()
    for model, settings in spec.get("models", {}).items()
}
PIPELINE_THREADS = ["--set-threads", "fit=1", "loo=1", "loso=1", "predict=1"]
LOSO_SITES = TEST_CONFIG["datasets"]["multisite"]["source"]["params"]["sites"]


def smoke_config(rrr_mirror: Path) -> dict:
    """The project's config with the tests' settings (not their smaller ladder), offline,
    on the tests' compile cache: the base of every test pipeline (local and SLURM)."""
    config = config_copy()
    update_config(config, {key: TEST_CONFIG[key] for key in ("preset", "loo")})
    config |= {"mirror": str(rrr_mirror), "compile_cache": str(COMPILE_CACHE)}
    return config


def pipeline_config(rrr_mirror: Path) -> dict:
    """As Snakemake merges `--configfile .test/config.yaml` over the config file: the
    given file's keys first, then the config file's, then the given file's values again
    (named entries keep that order: the index lists the datasets so)."""
    config = copy.deepcopy(TEST_CONFIG)
    update_config(config, smoke_config(rrr_mirror))
    update_config(config, TEST_CONFIG)
    return config


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory, rrr_mirror) -> Path:
    """The whole pipeline, run once for the session in a clone of the project with the
    test config written into it.

    LADDER_TEST_PIPELINE=<dir> keeps the run in <dir> and reuses it while it is up to
    date (Snakemake decides), for quicker rounds of tests while developing."""
    return build_pipeline(
        Path(KEPT_PIPELINE) if KEPT_PIPELINE else tmp_path_factory.mktemp("pipeline") / "clone",
        rrr_mirror,
    )


# Written by the pipeline's first build: whether its compile cache was empty then.
BUILD_RECORD = PIPELINE_CACHE.parent / "test-build.json"


def build_pipeline(workdir: Path, rrr_mirror: Path) -> Path:
    """Run the shared pipeline in `workdir` (a no-op when it is there and up to date),
    compiling into its own cache: empty when the directory is new."""
    clone_workflow(workdir)
    write_config(workdir, pipeline_config(rrr_mirror))
    cache = (workdir / PIPELINE_CACHE).resolve()
    record = workdir / BUILD_RECORD
    if not record.exists():
        record.parent.mkdir(parents=True, exist_ok=True)
        write_json(record, {"compile_cache_was_empty": not any(cache.rglob("*"))})
    snakemake(workdir, *PIPELINE_THREADS, config={"compile_cache": cache})
    return workdir


# Where a hard link cannot be made (another file system, one without links, too many).
LINK_REFUSED = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP}


def _link_or_copy(source: str, dest: str) -> None:
    try:
        os.link(source, dest)
    except OSError as error:
        if error.errno not in LINK_REFUSED:  # a missing file is a bug, not a reason to copy
            raise
        shutil.copy2(source, dest)


# A run's outputs: every job writes them by rename (or Snakemake deletes them first), so
# a copy may share them. The rest is written in place: Snakemake's records under
# .snakemake/ (`open(path, "w")`) and a job's log history, which a first attempt
# truncates; shared, a test's run in its copy rewrote the shared run's records, and the
# next test's copy of it planned reruns.
LINKED = ("data", "results", "reports")
# Not copied at all: the pipeline's compile cache (a copy's runs compile into COMPILE_CACHE,
# which is that cache under `make test`).
UNCOPIED = (str(PIPELINE_CACHE.parent),)


def linked_copy(source: Path, dest: Path) -> Path:
    """A copy of a finished run whose outputs are hard links (fast, same mtimes) and
    whose other files are copies. A test that edits an output must replace it."""

    def not_copied(folder: str, names: list[str]) -> list[str]:
        top = Path(folder) == source
        return [name for name in names if name in (*LINKED, *UNCOPIED)] if top else []

    shutil.copytree(source, dest, symlinks=True, ignore=not_copied)
    for name in LINKED:
        if (source / name).exists():
            shutil.copytree(source / name, dest / name, copy_function=_link_or_copy, symlinks=True)
    return dest


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
