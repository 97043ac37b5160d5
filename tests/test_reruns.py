"""Results follow the code, the config and the data: every edit reruns exactly what it
affects, and nothing shows a result its inputs no longer support."""

import json
import os
import re
import time
from pathlib import Path

import pytest

from replication_ladder.jobs import dependencies
from replication_ladder.jobs.runtime import ENTRY_POINTS, entry_module

from conftest import PIPELINE_THREADS, linked_copy, snakemake, write_config

pytestmark = pytest.mark.workflow

SHORT = {"draws": 200, "tune": 200, "chains": 2}  # plumbing, not numbers


def planned(workdir: Path, *args: str) -> dict[str, int]:
    """Jobs a dry run plans, per rule."""
    # --quiet takes several words: targets go before it.
    dry = snakemake(workdir, *args, "--dry-run", "--quiet", "rules")
    counts = {}
    for line in dry.stdout.splitlines():
        words = line.split()
        if len(words) == 2 and words[1].isdigit() and words[0] not in ("total", "job"):
            counts[words[0]] = int(words[1])
    return counts


def rules_running(module_file: Path, workdir: Path) -> set[str]:
    """The rules whose code (entry point, runtime, a report's notebook) includes a file."""
    running = set()
    for rule in ENTRY_POINTS:
        files = set(dependencies.module_closure(entry_module(rule)))
        files |= set(dependencies.module_closure("replication_ladder.jobs.runtime"))
        notebook = {"report": "report.ipynb", "sbc_report": "sbc.ipynb"}.get(rule)
        if notebook:
            files |= set(dependencies.notebook_closure(workdir / "workflow/notebooks" / notebook))
        if module_file in files:
            running.add(rule)
    return running


def edited(path: Path, text: str = "\n# an edit\n") -> None:
    """Replace a (possibly hard-linked) file by an edited copy with a newer mtime."""
    content = path.read_text() + text
    path.unlink()
    path.write_text(content)
    later = time.time() + 5
    os.utime(path, (later, later))


def inputs_per_rule(workdir: Path) -> dict[str, set[str]]:
    """Every input file of every job, the calibration's included, per rule (one dry run)."""
    dry = snakemake(workdir, "all", "sbc_all", "--dry-run", "--forceall").stdout
    inputs: dict[str, set[str]] = {}
    for rule, files in re.findall(r"^(?:rule|checkpoint) (\w+):\n    input: ([^\n]*)", dry, re.M):
        inputs.setdefault(rule, set()).update(files.split(", "))
    return inputs


def test_every_module_edit_reruns_exactly_the_jobs_that_run_it(pipeline, tmp_path):
    """Every module of the package is an input of the jobs of exactly the rules that run
    it (their entry module, the runtime, a report's notebook, and what those import, read
    from the code with `ast`), as Snakemake's own plan of the whole DAG (calibration
    included) lists them; and of at least one rule, unless only the planning process runs
    it (the config, the resources, the dependencies: what they decide reaches the jobs as
    params, which Snakemake's params trigger tracks), the run's closing summary (the
    Snakefile's onsuccess) or the scaffold command.

    Then edits, for the modules the issue found ignored (builders.py, psis.py) and the
    one that reaches the most rules: appending a comment plans what a forced rerun of its
    rules plans (those jobs and every job downstream; Snakemake's --forcerun is the
    reference). Editing every module in turn would cost two dry runs each for the same
    mechanism: the membership check above is the per-module part."""
    copy = linked_copy(pipeline, tmp_path / "run")
    assert planned(copy) == {}, "the copy of the finished run is up to date"
    inputs = inputs_per_rule(copy)
    package = copy / "workflow" / "replication_ladder"
    outside_jobs = set().union(
        *(
            dependencies.module_closure(f"replication_ladder.{name}")
            for name in (
                "config",
                "jobs.resources",
                "jobs.dependencies",
                "scaffold.trial",
                "jobs.run_summary",
            )
        )
    )
    running: dict[Path, set[str]] = {}
    failures = []
    for name in dependencies.package_modules():
        original = dependencies.module_file(name)
        relative = original.relative_to(dependencies.PACKAGE_DIR)
        rules = rules_running(original, copy) & set(inputs)
        reading = {
            r for r, files in inputs.items() if f"workflow/replication_ladder/{relative}" in files
        }
        if reading != rules or not (rules or original in outside_jobs):
            failures.append(f"{name}: an input of {sorted(reading)}, run by {sorted(rules)}")
        running[package / relative] = rules
    assert not failures, "\n".join(failures)
    widest = max(running, key=lambda path: len(running[path]))
    # Snakemake adds forced rules' jobs to the DAG: force only those of the default target.
    default_rules = set(planned(copy, "--forceall"))
    for path in (package / "models/builders.py", package / "scoring/psis.py", widest):
        expected = planned(copy, "--forcerun", *sorted(running[path] & default_rules))
        assert expected, f"{path.name} runs in no job of the default target"
        backup, stat = path.read_bytes(), path.stat()
        edited(path)
        plan = planned(copy)
        path.unlink()
        path.write_bytes(backup)
        os.utime(path, (stat.st_atime, stat.st_mtime))
        assert plan == expected, f"{path.name}: planned {plan}, expected {expected}"


def test_editing_the_template_reruns_only_the_reports(pipeline, tmp_path):
    copy = linked_copy(pipeline, tmp_path / "run")
    edited(copy / "workflow/notebooks/report.ipynb", "")
    template = copy / "workflow/notebooks/report.ipynb"
    notebook = json.loads(template.read_text())
    notebook["cells"].append(
        {"cell_type": "markdown", "id": "added", "metadata": {}, "source": ["An edit."]}
    )
    template.write_text(json.dumps(notebook))
    reported = len(list((pipeline / "reports").glob("*.ipynb")))
    assert planned(copy) == {"report": reported, "report_index": 1, "all": 1}


def test_a_dataset_without_its_verdict_shows_none_in_the_index(pipeline, tmp_path):
    """Drop the RRR's replication block: only the RRR's report is rendered again (the
    other datasets' settings did not change), the index is rebuilt from declared inputs
    only, and the old replication.json still on disk is not shown."""
    copy = linked_copy(pipeline, tmp_path / "run")
    config_path = copy / "config/config.yaml"
    import yaml

    config = yaml.safe_load(config_path.read_text())
    config["datasets"]["rrr"]["replication"] = None
    config["only"]["rrr"] = ["fixed"]
    config_path.unlink()
    write_config(copy, config)
    old_verdict = json.loads((copy / "results/rrr/replication.json").read_text())["verdict"]
    assert planned(copy, "reports/index.html")["report"] == 1
    snakemake(copy, "reports/index.html", *PIPELINE_THREADS)
    index = (copy / "reports/index.html").read_text()
    assert (copy / "results/rrr/replication.json").exists()  # still on disk, not shown
    row = re.search(r'<tr><td><a href="rrr.html">rrr</a></td><td>(.*?)</td>', index).group(1)
    assert row == "" and old_verdict.split(":")[0] not in index


def test_a_local_file_is_an_input_of_its_fetch(workflow_copy, tmp_path):
    """Pinned, an edited file fails its checksum naming the file and both hashes;
    unpinned, it reruns everything downstream of it."""
    import hashlib

    source = tmp_path / "study.csv"
    source.write_text("x,y\n" + "\n".join(f"{i},{2 * i + (i % 3)}" for i in range(30)) + "\n")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    study = {
        "source": {"path": str(source), "sha256": digest},
        "columns": {"x": "number", "y": "number"},
        "outcome": {"range": [0, 70]},  # the line's priors follow from it
        "models": {"line": {"formula": "y ~ x"}},
    }
    write_config(workflow_copy, {"sampling": SHORT, "datasets": {"study": study}})
    snakemake(workflow_copy, "data/processed/study.parquet")
    source.write_text(source.read_text() + "31,64\n")
    failed = snakemake(workflow_copy, "data/processed/study.parquet", check=False)
    assert failed.returncode != 0
    actual = hashlib.sha256(source.read_bytes()).hexdigest()
    output = failed.stdout + failed.stderr
    assert f"expected {digest}, got {actual}" in output and str(source) in output

    study["source"] = {"path": str(source)}  # unpinned
    write_config(workflow_copy, {"sampling": SHORT, "datasets": {"study": study}})
    snakemake(workflow_copy, "results/study/line/summary.parquet", "--set-threads", "fit=1")
    record = json.loads((workflow_copy / "data/processed/study.json").read_text())
    assert record["raw_sha256"] == actual and not record["pinned"]
    assert any("not pinned" in warning for warning in record["warnings"])
    log = (workflow_copy / "logs/fetch_data/study.csv.log").read_text()
    assert "not pinned" in log and actual in log
    edited(source, "32,66\n")
    plan = planned(workflow_copy, "results/study/line/summary.parquet")
    assert plan == {"fetch_data": 1, "validate_data": 1, "fit": 1}


def test_a_failure_a_retry_cannot_fix_is_not_recomputed(workflow_copy, rrr_mirror):
    """strict_convergence and five tuning steps: the fit fails with a ConvergenceError.
    With two retries, the second and third attempts fail at once, naming the first's
    reason, and the log keeps every attempt's lines."""
    config = {
        "mirror": rrr_mirror,
        "strict_convergence": "true",
        "datasets": "{logit: {models: {wide_priors: {sampling: {draws: 30, tune: 5, chains: 2}}}}}",
    }
    result = snakemake(
        workflow_copy,
        "results/logit/wide_priors/summary.parquet",
        "--retries",
        "2",
        config=config,
        check=False,
    )
    assert result.returncode != 0
    log = (workflow_copy / "logs/fit/logit/wide_priors.log").read_text()
    assert [line for line in log.splitlines() if line.startswith("=== attempt")] == [
        "=== attempt 1 of fit(dataset=logit, model=wide_priors) ===",
        "=== attempt 2 of fit(dataset=logit, model=wide_priors) ===",
        "=== attempt 3 of fit(dataset=logit, model=wide_priors) ===",
    ]
    # Built and sampled once: the later attempts log nothing but the first's reason.
    first, *later = log.split("=== attempt")[1:]
    assert "Formula:" in first and "did not converge" in first
    for attempt in later:
        assert all("did not converge" in line for line in attempt.splitlines()[1:]), attempt
    assert "(attempt 3 not run: attempt 2 failed alike)" in log
    assert "logit/wide_priors did not converge" in result.stderr


def test_loo_jobs_that_may_refit_are_sized_like_fits(workflow_copy, rrr_mirror):
    """A thread per chain (4), as a fit gets; eight cores so that none is capped."""
    dry = snakemake(
        workflow_copy,
        "--dry-run",
        "--cores",
        "8",
        "results/rrr/loo.parquet",
        config={"mirror": rrr_mirror},
    )
    loo_jobs = re.findall(
        r"rule loo:\n(?:    .*\n)*?    threads: (\d+)\n    resources: ([^\n]*)", dry.stdout
    )
    assert loo_jobs and all(int(threads) == 4 for threads, _ in loo_jobs)
    none = snakemake(
        workflow_copy,
        "--dry-run",
        "--cores",
        "8",
        "results/rrr/loo.parquet",
        config={"mirror": rrr_mirror, "loo": "{remedy: none}"},
    )
    assert "threads: 4" not in none.stdout.split("rule loo:")[1].split("rule ")[0]


def test_a_fit_gets_a_thread_per_chain_only_where_sampling_is_the_work(pipeline, tmp_path):
    """With the data there, at the default draws (4 chains of 1,000): the RRR's participant
    rung (1,745 group levels) a thread per chain; its fixed rung (6,907 rows, no group)
    and the synthetic linear dataset (100 rows) one thread, so that two such fits compile
    side by side. Eight cores, so that none is capped."""
    run = linked_copy(pipeline, tmp_path / "run")
    rungs = ("rrr/fixed", "rrr/participant", "linear/linear")
    fits = [f"results/{rung}/summary.parquet" for rung in rungs]
    dry = snakemake(
        run, *fits, "--dry-run", "--cores", "8", "--forcerun", "fit", config={"preset": "null"}
    )
    # Snakemake prints threads above one only; cpus_per_task is the threads.
    jobs = re.findall(
        r"rule fit:\n(?:    .*\n)*?    wildcards: dataset=(\w+), model=(\w+)\n(?:    .*\n)*?"
        r"    resources: .*cpus_per_task=(\d+)",
        dry.stdout,
    )
    threads = {f"{dataset}/{model}": int(n) for dataset, model, n in jobs}
    assert threads == {"rrr/fixed": 1, "rrr/participant": 4, "linear/linear": 1}, dry.stdout[-3000:]
