"""Hardening: interruption, concurrency, hostile config and data, reproducibility,
security. Each part says what it guarantees; the README's "Guarantees" section lists them.
"""

import hashlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replication_ladder.base.errors import ConfigError
from replication_ladder.config import Ladder
from replication_ladder.data.processing import write_processed

from conftest import (
    BUILD_RECORD,
    CONFIG,
    PIPELINE_CACHE,
    PIPELINE_SAMPLERS,
    PIPELINE_THREADS,
    config_copy,
    copy_workflow,
    linked_copy,
    run_command,
    snakemake,
    write_config,
)

# -- interruption ---------------------------------------------------------------------------


def start_run(workdir: Path, *targets: str, config: dict) -> subprocess.Popen:
    """The README's run command in its own process group, so that kill -9 reaches
    Snakemake and every job it started."""
    return subprocess.Popen(
        run_command(*targets, config=config),
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill_when(process: subprocess.Popen, condition, timeout: float = 600) -> bool:
    """kill -9 the whole run as soon as `condition()` holds; False if it ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if condition():
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.002)
    process.wait()
    return False


def finish_run(workdir: Path, *targets: str, config: dict) -> None:
    run = start_run(workdir, *targets, config=config)
    assert run.wait(timeout=1800) == 0, "the rerun did not finish the run"


def assert_fit_complete(fit_dir: Path, chains: int, draws: int) -> None:
    with xr.open_datatree(fit_dir / "posterior.nc") as tree:
        assert {"posterior", "sample_stats", "log_likelihood", "observed_data"} <= set(
            tree.children
        )
        assert dict(tree["posterior"].sizes)["chain"] == chains
        assert dict(tree["posterior"].sizes)["draw"] == draws
        assert np.isfinite(tree["log_likelihood"].to_dataset().to_array().values).all()
    assert not pd.read_parquet(fit_dir / "summary.parquet").empty
    json.loads((fit_dir / "diagnostics.json").read_text())
    assert not list(fit_dir.glob(".*.part"))  # the stale temporary was cleaned up


SMOKE = {"preset": "smoke"}


@pytest.mark.workflow
def test_killed_in_the_middle_of_a_fit(workflow_copy, rrr_mirror):
    config = {**SMOKE, "mirror": rrr_mirror}
    target = "results/rrr/random_slope/summary.parquet"
    log = workflow_copy / "logs/fit/rrr/random_slope.log"
    run = start_run(workflow_copy, target, config=config)
    # While the model compiles or samples: the log shows the model, no artefact yet.
    assert kill_when(run, lambda: log.exists() and "Formula:" in log.read_text())
    fit_dir = workflow_copy / "results/rrr/random_slope"
    assert not (fit_dir / "posterior.nc").exists()
    assert not (fit_dir / "summary.parquet").exists()
    assert list((workflow_copy / ".snakemake/locks").iterdir())  # left behind by the kill
    finish_run(workflow_copy, target, config=config)
    assert_fit_complete(fit_dir, chains=2, draws=100)


@pytest.mark.workflow
def test_killed_while_writing_the_posterior_file(workflow_copy, rrr_mirror):
    """The posterior (the largest artefact) is caught half-written, as a temporary file
    beside its final path, and the run is killed right then."""
    config = {"mirror": rrr_mirror, "sampling": "{draws: 1000, tune: 200, chains: 2}"}
    target = "results/rrr/fixed/summary.parquet"
    fit_dir = workflow_copy / "results/rrr/fixed"

    def writing() -> bool:
        return fit_dir.exists() and any(fit_dir.glob(".posterior.nc.*.part"))

    for _ in range(3):  # the window is short: retry until the kill lands inside it
        run = start_run(workflow_copy, target, "--forcerun", "fit", config=config)
        if kill_when(run, writing):
            break
    else:
        pytest.fail("never caught the posterior file being written")
    assert not (fit_dir / "posterior.nc").exists()
    assert list(fit_dir.glob(".posterior.nc.*.part"))  # the partial file, aside
    finish_run(workflow_copy, target, config=config)
    assert_fit_complete(fit_dir, chains=2, draws=1000)


@pytest.mark.workflow
def test_killed_while_rendering_a_report(pipeline, tmp_path):
    copy = linked_copy(pipeline, tmp_path / "run")
    config = {}
    target = "reports/rrr.html"
    (copy / target).unlink()
    (copy / "reports/rrr.ipynb").unlink()
    log = copy / "logs/report/rrr.log"
    log.unlink()
    run = start_run(copy, target, config=config)
    assert kill_when(run, lambda: log.exists() and "Executing notebook" in log.read_text())
    assert not (copy / target).exists() and not (copy / "reports/rrr.ipynb").exists()
    finish_run(copy, target, config=config)
    notebook = json.loads((copy / "reports/rrr.ipynb").read_text())
    assert notebook["cells"] and (copy / target).read_bytes() == (pipeline / target).read_bytes()


# -- concurrency ------------------------------------------------------------------------------


def log_span(log: Path) -> tuple[str, str]:
    """When a job's log says it started and ended (its first and last time stamps)."""
    stamps = re.findall(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ", log.read_text(), re.M)
    return stamps[0], stamps[-1]


@pytest.mark.workflow
def test_fits_compiling_into_an_empty_cache_at_once_agree_with_a_warm_rerun(pipeline, tmp_path):
    """The shared pipeline is built on an empty compile cache of its own, two jobs at a
    time (one core each): jobs that sample (fits, leave-one-site-out refits), each
    compiling a model of its own, ran at once into it. Which jobs share the two slots is
    Snakemake's choice, so any two overlapping will do. No lock errors, no interleaved
    logs; and rerun on the warm cache, its fit with nutpie and one with PyMC's NUTS draw
    what the cold build drew, to the last bit (the same config, the same draws)."""
    assert json.loads((pipeline / BUILD_RECORD).read_text())["compile_cache_was_empty"]
    fit_logs = sorted((pipeline / "logs/fit").glob("*/*.log"))
    sampling = [*fit_logs, *(pipeline / "logs/loso").glob("*/*.log")]
    spans = sorted((log_span(log), log.relative_to(pipeline / "logs")) for log in sampling)
    overlapping = [
        (earlier, later)
        for earlier, later in itertools.combinations(spans, 2)
        if later[0][0] < earlier[0][1]
    ]
    assert overlapping, f"no two jobs that sample overlapped: {spans}"
    build_log = min((pipeline / ".snakemake/log").glob("*.snakemake.log"))
    # A lock error, not a file named like normal_block.py.
    assert not re.search(r"\block", build_log.read_text().lower())
    for log in fit_logs:
        fit = log.relative_to(pipeline / "logs/fit")
        dataset, model = fit.with_suffix("").parts
        named = re.findall(
            r"INFO replication_ladder\.models\.fit: datasets\.(\w+)\.models\.(\w+)$",
            log.read_text(),
            re.M,
        )
        assert named == [(dataset, model)], f"{fit}: log interleaved: {named}"
    cache = pipeline / PIPELINE_CACHE
    assert any(cache.rglob("*.nbi")), "the fits compiled into the pipeline's cache"

    copy = linked_copy(pipeline, tmp_path / "run")
    targets = [f"results/{fit}/summary.parquet" for fit in PIPELINE_SAMPLERS]
    snakemake(
        copy, *targets, *PIPELINE_THREADS, "--forcerun", "fit", config={"compile_cache": cache}
    )
    for fit, sampler in PIPELINE_SAMPLERS.items():
        cold, warm = pipeline / "results" / fit, copy / "results" / fit
        assert json.loads((warm / "diagnostics.json").read_text())["sampler"] == sampler
        assert not os.path.samefile(cold / "summary.parquet", warm / "summary.parquet")  # rerun
        assert (warm / "summary.parquet").read_bytes() == (cold / "summary.parquet").read_bytes()
        with (
            xr.open_datatree(cold / "posterior.nc") as before,
            xr.open_datatree(warm / "posterior.nc") as after,
        ):
            xr.testing.assert_identical(
                after["posterior"].to_dataset().drop_attrs(),
                before["posterior"].to_dataset().drop_attrs(),
            )


# -- hostile config -------------------------------------------------------------------------


def mutated(path: tuple, value) -> dict:
    config = config_copy()
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return config


def rejected(config: dict) -> str:
    with pytest.raises(ConfigError) as error:
        Ladder(config)
    return str(error.value)


SETTING_PATHS = [
    ("seed",),
    ("preset",),
    ("mirror",),
    ("allow_http",),
    ("download", "timeout_seconds"),
    ("download", "retries"),
    ("download", "backoff_seconds"),
    ("compile_cache",),
    ("ci_prob",),
    ("convergence", "max_r_hat"),
    ("convergence", "min_ess"),
    ("convergence", "max_divergences"),
    ("strict_convergence",),
    ("sampling", "sampler"),
    ("sampling", "draws"),
    ("sampling", "tune"),
    ("sampling", "chains"),
    ("sampling", "target_accept"),
    ("loo", "pareto_k_threshold"),
    ("loo", "remedy"),
    ("loo", "kfold_folds"),
    ("loo", "max_reloo"),
]
# Values no setting accepts: lists, mappings, and a large negative number.
WRONG_VALUES = st.one_of(
    st.lists(st.integers(), min_size=1),
    st.dictionaries(st.text(min_size=1), st.integers(), min_size=1),
    st.just(-1.5e9),
)

# Each example builds a Ladder (about 0.1 s); 40 examples per property cover its cases.
HYPOTHESIS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@HYPOTHESIS
@given(path=st.sampled_from(SETTING_PATHS), value=WRONG_VALUES)
def test_any_wrong_setting_is_rejected_naming_its_key(path, value):
    message = rejected(mutated(path, value))
    assert f"config key {'.'.join(path)}" in message or "config key preset:" in message


@HYPOTHESIS
@given(
    name=st.one_of(
        st.from_regex(r"\.\./[a-z]{1,8}", fullmatch=True),
        st.from_regex(r"/[a-z/]{1,12}", fullmatch=True),
        st.from_regex(r"[a-z]{1,5}/[a-z]{1,5}", fullmatch=True),
        st.from_regex(r"[A-Z0-9_.\-][a-z0-9]{0,6}", fullmatch=True),
        st.text(alphabet=" \t\n$;|&`'\"\\*?~", min_size=1, max_size=6),
    )
)
def test_dataset_and_model_names_cannot_become_paths(name):
    config = config_copy()
    config["datasets"][name] = config["datasets"].pop("linear")
    assert "config key datasets" in rejected(config)
    config = config_copy()
    models = config["datasets"]["linear"]["models"]
    models[name] = models.pop("linear")
    assert "config key datasets.linear.models" in rejected(config)


@HYPOTHESIS
@given(
    url=st.one_of(
        st.from_regex(r"http://[a-z]{1,10}\.org/[a-z]{1,8}\.csv", fullmatch=True),
        st.from_regex(r"(ftp|file|gopher|ssh)://[a-z]{1,10}/[a-z]{1,8}\.csv", fullmatch=True),
        st.from_regex(r"[a-z]{1,10}\.org/[a-z]{1,8}\.csv", fullmatch=True),
    )
)
def test_only_https_sources_unless_http_is_allowed(url):
    config = mutated(("datasets", "rrr", "source", "url"), url)
    assert "datasets.rrr.source" in rejected(config)
    if url.startswith("http://"):
        config["allow_http"] = True
        Ladder(config)  # explicitly allowed for a local mirror


@HYPOTHESIS
@given(
    digest=st.one_of(
        st.text(alphabet="0123456789abcdef", min_size=0, max_size=63),
        st.text(alphabet="0123456789abcdef", min_size=65, max_size=80),
        st.text(alphabet="0123456789ABCDEFghijxyz", min_size=64, max_size=64).filter(
            lambda digest: not re.fullmatch(r"[0-9a-f]{64}", digest)
        ),
    )
)
def test_checksums_must_be_64_lowercase_hex_digits(digest):
    message = rejected(mutated(("datasets", "rrr", "source", "sha256"), digest))
    assert "config key datasets.rrr.source.sha256" in message


@HYPOTHESIS
@given(
    draws=st.integers(max_value=0),
    chains=st.integers(max_value=0),
    sampler=st.text(min_size=1).filter(lambda s: s not in ("nutpie", "pymc", "numpyro")),
)
def test_impossible_sampling_is_rejected(draws, chains, sampler):
    where = ("datasets", "rrr", "models", "fixed", "sampling")
    assert "sampling.draws" in rejected(mutated(where, {"draws": draws}))
    assert "sampling.chains" in rejected(mutated(where, {"chains": chains}))
    assert "sampling.sampler" in rejected(mutated(where, {"sampler": sampler}))


@pytest.mark.workflow
@pytest.mark.parametrize(
    "override",
    [
        "datasets={'../x': {source: {generator: linear}}}",
        "sampling={chains: 0}",
        "datasets={rrr: {source: {url: 'ftp://example.org/rrr_long.csv'}}}",
    ],
)
def test_a_bad_config_runs_no_job(workflow_copy, override):
    key, _, value = override.partition("=")
    result = snakemake(workflow_copy, config={key: value}, check=False)
    assert result.returncode != 0 and "config key" in result.stdout + result.stderr
    assert not (workflow_copy / "data").exists() and not (workflow_copy / "logs").exists()


# -- hostile data, through the workflow -------------------------------------------------------


def use_local_file(workdir: Path, dataset: str, raw: Path, **changes) -> None:
    """Point a dataset of the workflow's config at a local file (its source replaced, not
    merged as --config would), with other entries of the dataset changed as given."""
    config = config_copy()
    entry = config["datasets"][dataset]
    entry["source"] = {"path": str(raw), "sha256": hashlib.sha256(raw.read_bytes()).hexdigest()}
    entry.update(changes)
    write_config(workdir, config)


HEADER = "X,D,Y"
GOOD = ["0.1,0,1.2", "0.5,1,7.0", "-0.3,0,0.4", "1.2,1,9.1", "0.7,0,2.2", "-1.1,1,3.3"]
HOSTILE = {
    "truncated file": (HEADER + "\n" + "\n".join(GOOD) + "\n0.3,1", "expected 3 fields"),
    "binary garbage": (
        bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)),
        "binary data (a NUL byte)",
    ),
    "a line of tens of megabytes": (
        HEADER + "\n" + "9" * 40_000_000 + ",0,1\n",
        "a field is longer than",
    ),
    "NaN and inf": (HEADER + "\n" + "\n".join([*GOOD, "inf,1,2"]), "infinite value"),
}


@pytest.mark.workflow
@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_files_give_one_clear_line_and_no_traceback(workflow_copy, case):
    content, message = HOSTILE[case]
    raw = workflow_copy / "hostile" / "raw.csv"
    raw.parent.mkdir()
    raw.write_bytes(content if isinstance(content, bytes) else content.encode())
    use_local_file(workflow_copy, "categorical", raw, predict=None)  # no held-out rows
    # A hang would be killed at 120 s and fail here with the command's name.
    result = snakemake(
        workflow_copy,
        "data/processed/categorical.parquet",
        "--show-failed-logs",  # as the profiles do
        check=False,
        timeout=120,
    )
    assert result.returncode != 0
    # The fetched copy of the file is what validation reads, and what it names.
    assert "data/raw/categorical.csv: line" in result.stderr and message in result.stderr
    log = (workflow_copy / "logs/validate_data/categorical.log").read_text()
    assert "Traceback" not in log and message in log
    assert not (workflow_copy / "data/processed/categorical.parquet").exists()


# -- reproducibility ----------------------------------------------------------------------------


# -- security -----------------------------------------------------------------------------------


class _NoNetwork:
    def __init__(self, *args, **kwargs):
        raise AssertionError("something tried to open a network connection")


def test_data_cannot_run_code_or_reach_the_network(tmp_path, monkeypatch):
    """Category levels that look like code or URLs go through validation, a Bambi fit and
    its predictions for rows with those levels as plain text: nothing runs, nothing
    connects."""
    from replication_ladder.models.kinds import build_rung
    from replication_ladder.models.samplers import compile_rung

    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    rows = [
        f"{x},{'"' + payload + '"' if i % 2 else 'https://example.org/x'},{y}"
        for i, (x, y) in enumerate(zip(np.linspace(-1, 1, 40), np.linspace(0, 5, 40), strict=True))
    ]
    raw = tmp_path / "raw.csv"
    raw.write_text("X,D,Y\n" + "\n".join(rows) + "\n")
    monkeypatch.setattr(socket, "socket", _NoNetwork)
    spec = {
        "dataset": "categorical",
        "format": "csv",
        "read": {},
        "rename": {},
        "columns": {"X": "number", "D": "category", "Y": "number"},
        "dropna": ["X", "D", "Y"],
        "site": None,
        "participant": None,
        "treatment": None,
        "pinned": True,
    }
    write_processed(raw, spec, tmp_path / "data.parquet", tmp_path / "data.json")
    data = pd.read_parquet(tmp_path / "data.parquet")
    assert set(data["D"]) == {payload, "https://example.org/x"}
    model_spec = Ladder(config_copy()).model_spec("categorical", "default_priors")
    model_spec["sampling"] = {**model_spec["sampling"], "draws": 30, "tune": 30, "chains": 1}
    rung = build_rung(model_spec, data)
    fitted = rung.finish(compile_rung(rung, model_spec["sampling"]).sample(1, 1))
    posterior = xr.DataTree.from_dict({"posterior": fitted["posterior"].to_dataset()})
    new_rows = data.iloc[::7]
    expected, _ = rung.predict(posterior, new_rows, seed=1)
    assert expected.shape == (30, len(new_rows))  # a draw per row: the levels were read
    assert not marker.exists()


@pytest.mark.workflow
def test_site_labels_never_become_paths(tmp_path, rrr_mirror):
    """Leave-one-site-out names its refits by position: sites called '../../escape' or
    '/etc/cron.d/x' write nothing outside the run's directories."""
    workdir = copy_workflow(tmp_path / "run")
    sites = ["../../escape", "/etc/cron.d/x", "ok"]
    rng = np.random.default_rng(3)
    lines = ["condition,age,gender,study,value"]
    for i in range(120):
        lines.append(f'{i % 2},{20 + i % 7},{i // 3 % 2},"{sites[i % 3]}",{rng.normal(4, 2):.3f}')
    raw = tmp_path / "sites.csv"
    raw.write_text("\n".join(lines) + "\n")
    # A config of one's own: a local file with hostile site labels, one rung, LOSO on.
    use_local_file(
        workdir,
        "multisite",
        raw,
        columns={
            "condition": "binary",
            "age": "number",
            "gender": "binary",
            "study": "category",
            "value": "number",
        },
        loso=True,
        participant=None,
        replication=None,
        models={"fixed": CONFIG["datasets"]["multisite"]["models"]["fixed"]},
    )
    before = set(tmp_path.iterdir())
    snakemake(
        workdir, "results/multisite/loso.parquet", config={"preset": "smoke", "mirror": rrr_mirror}
    )
    assert set(tmp_path.iterdir()) == before  # nothing beside the run's directory
    assert not Path("/etc/cron.d/x").exists()
    sites_table = pd.read_parquet(workdir / "results/multisite/loso_sites.parquet")
    assert set(sites_table["site"]) == set(sites)
    written = {p.name for p in (workdir / "results/multisite/loso").iterdir()}
    assert written == {"fixed.parquet"}  # one file per rung, named by the config
