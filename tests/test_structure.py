"""The workflow's shape: rule, script and entry function share a name; every rule has a
log; artefact paths are named once (replication_ladder.base.paths), never spelt in rules."""

import re

import pytest

from replication_ladder.base import paths
from replication_ladder.jobs.runtime import ENTRY_POINTS

from conftest import PROJECT

RULES = PROJECT / "workflow" / "rules"
SCRIPTS = PROJECT / "workflow" / "scripts"


def rule_blocks() -> dict[str, str]:
    blocks = {}
    for smk in [PROJECT / "Snakefile", *RULES.glob("*.smk")]:
        text = smk.read_text()
        for match in re.finditer(r"^(?:rule|checkpoint) (\w+):\n((?:    .*\n|\n)*)", text, re.M):
            blocks[match.group(1)] = match.group(2)
    return blocks


def test_rule_script_and_entry_function_share_a_name():
    scripted = {}
    for rule, body in rule_blocks().items():
        found = re.search(r'script:\s*\n\s*"\.\./scripts/(\w+)\.py"', body)
        if found:
            scripted[rule] = found.group(1)
    assert scripted == {rule: rule for rule in scripted}, "a rule's script is named after it"
    assert set(scripted) == set(ENTRY_POINTS), set(scripted) ^ set(ENTRY_POINTS)
    assert {p.stem for p in SCRIPTS.glob("*.py")} == set(ENTRY_POINTS)
    # One script for all but the name it gives the runtime, its own.
    texts = {p.read_text().replace(f'"{p.stem}"', '"<rule>"') for p in SCRIPTS.glob("*.py")}
    assert len(texts) == 1 and 'run_job(snakemake, "<rule>")' in texts.pop()


def test_every_job_rule_logs_and_has_its_code_as_input():
    for rule, body in rule_blocks().items():
        if rule in ("all", "sbc_all"):
            continue
        assert "log:" in body, rule
        assert f'code("{rule}"' in body, f"{rule}: code inputs not computed from its entry point"


def test_fits_are_benchmarked():
    assert "benchmark:" in rule_blocks()["fit"]


def test_no_rule_spells_an_artefact_path():
    """Outputs come from replication_ladder.base.paths: no 'results/...' or 'reports/...'
    literal in a rule file (logs are the rules' own)."""
    for smk in RULES.glob("*.smk"):
        for line in smk.read_text().splitlines():
            if '"logs/' in line:
                continue
            assert not re.search(r'"(results|reports|data)/', line), f"{smk.name}: {line.strip()}"


def test_paths_name_each_fit_artefact_once():
    files = [p.rsplit("/", 1)[-1] for p in paths.FIT.values()]
    assert len(files) == len(set(files))
    assert paths.at(paths.FIT, dataset="d", model="m")["summary"] == "results/d/m/summary.parquet"


# Libraries whose public API is their top-level namespace: a name imported from one of
# their submodules may move in a release without a deprecation (arviz-stats moved
# ELPDData and SamplingWrapper between 0.x releases).
TOP_LEVEL_ONLY = ("arviz", "arviz_base", "arviz_stats", "arviz_plots", "bambi", "nutpie")


def test_the_package_imports_only_public_names():
    """Every `from X.sub import name` of those libraries is refused, and every name the
    package imports from their top level must be there (an import that moved fails)."""
    import ast
    import importlib

    package = PROJECT / "workflow" / "replication_ladder"
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or node.module is None:
                continue
            root, _, sub = node.module.partition(".")
            if root not in TOP_LEVEL_ONLY:
                continue
            assert not sub, f"{path.name}: from {node.module} import ... (use {root}'s own)"
            module = importlib.import_module(root)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{path.name}: {root}.{alias.name} moved"


def test_a_jobs_nested_paths_take_the_paths_snakemake_gave_it_in_order():
    """What a module's prefix does to a report's inputs: the nested names keep their
    shape, each path becomes the one given in its place, a missing file stays None."""
    nested = {"a": "results/x.json", "fits": {"m": {"p": "results/m/p.nc", "q": None}}}
    assert paths.leaves(nested) == ["results/x.json", "results/m/p.nc"]
    given = [f"ladder/{path}" for path in paths.leaves(nested)]
    assert paths.relocated(nested, given) == {
        "a": "ladder/results/x.json",
        "fits": {"m": {"p": "ladder/results/m/p.nc", "q": None}},
    }
    with pytest.raises(ValueError, match="1 paths given for 2"):
        paths.relocated(nested, given[:1])
