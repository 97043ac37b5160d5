"""The environment: pins in pyproject.toml, the lock and environment.yml agree."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from conftest import PROJECT

PYPROJECT = tomllib.loads((PROJECT / "pyproject.toml").read_text())


def pins() -> dict[str, str]:
    project = PYPROJECT["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["test"]
    result = {}
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        assert version, f"{requirement}: every direct dependency is pinned exactly"
        result[name.lower()] = version
    return result


def test_environment_yml_lists_the_same_versions():
    environment = yaml.safe_load((PROJECT / "environment.yml").read_text())
    conda = {}
    for entry in environment["dependencies"]:
        if isinstance(entry, str) and "==" in entry:
            name, version = entry.split("==")
            conda[name.lower()] = version
    assert conda == pins()


def test_lock_pins_every_direct_dependency_with_hashes():
    lock = (PROJECT / "requirements.lock").read_text()
    locked = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==([^\s;\\]+)", lock, re.MULTILINE))
    for name, version in pins().items():
        assert locked.get(name) == version, f"{name}: pyproject {version}, lock {locked.get(name)}"
    # Every pinned package carries at least one hash.
    blocks = re.split(r"\n(?=[a-z0-9])", lock.split("\n", 2)[2])
    assert all("--hash=sha256:" in block for block in blocks if "==" in block)


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    for name, pinned in pins().items():
        assert version(name) == pinned, name


def test_the_venv_was_set_up_from_this_lock_and_pyproject():
    """setup-venv redoes the install when either file changes: pyproject.toml's entry
    points are written into .venv/bin (a moved `ladder-new-dataset` entry left a stale
    script that could not import). Its stamp is the hash of both, as sha256sum prints it."""
    import hashlib

    if Path(sys.prefix).resolve() != (PROJECT / ".venv").resolve():
        raise AssertionError(f"the tests run in {sys.prefix}, not the project's .venv")
    both = (PROJECT / "requirements.lock").read_bytes() + (PROJECT / "pyproject.toml").read_bytes()
    stamp = (PROJECT / ".venv" / ".ladder-setup.sha256").read_text().strip()
    assert stamp == hashlib.sha256(both).hexdigest()
    script = (PROJECT / ".venv" / "bin" / "ladder-new-dataset").read_text()
    module, _, function = PYPROJECT["project"]["scripts"]["ladder-new-dataset"].partition(":")
    assert f"from {module} import {function}" in script


FIND_PYTHON = PROJECT / "workflow" / "bin" / "find-python"
REAL = sys.executable  # the venv's interpreter: >= 3.12


def _executable(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def find_python(path_dirs: list[Path], **env) -> subprocess.CompletedProcess:
    search = ":".join([*(str(d) for d in path_dirs), "/usr/bin", "/bin"])
    return subprocess.run(
        [str(FIND_PYTHON)], env={"PATH": search, **env}, capture_output=True, text=True
    )


def test_explicit_python_that_fails_is_refused():
    result = find_python([], PYTHON="/bin/false")
    assert result.returncode == 1
    assert "PYTHON=/bin/false does not run as Python >= 3.12" in result.stderr


def test_explicit_python_wins(tmp_path):
    shims = tmp_path / "bin"
    (shims).mkdir()
    (shims / "python3.13").symlink_to(REAL)
    assert find_python([shims], PYTHON=REAL).stdout.strip() == REAL


def test_a_shim_that_does_not_run_is_skipped(tmp_path):
    shims = tmp_path / "bin"
    _executable(shims / "python3.13", 'echo "pyenv: python3.13: command not found" >&2; exit 127')
    (shims / "python3.12").symlink_to(REAL)
    assert find_python([shims]).stdout.strip() == str(shims / "python3.12")


def test_pyenv_versions_newest_first(tmp_path):
    root = tmp_path / "pyenv"
    _executable(root / "versions" / "3.11.7" / "bin" / "python3", "exit 1")
    (root / "versions" / "3.12.9" / "bin").mkdir(parents=True)
    (root / "versions" / "3.12.9" / "bin" / "python3").symlink_to(REAL)
    _executable(root / "versions" / "3.9.18" / "bin" / "python3", "exit 1")
    bin_dir = tmp_path / "bin"
    _executable(bin_dir / "pyenv", f'echo "{root}"')
    _executable(bin_dir / "python3", "exit 1")  # a 3.11 python3 on PATH: too old
    result = find_python([bin_dir])
    assert result.stdout.strip() == str(root / "versions" / "3.12.9" / "bin" / "python3")


def test_nothing_usable_is_a_clear_error(tmp_path):
    bin_dir = tmp_path / "bin"
    _executable(bin_dir / "python3", "exit 1")
    result = find_python([bin_dir])
    assert result.returncode == 1 and "no Python >= 3.12 found" in result.stderr


RULE_ENVIRONMENT = PROJECT / "workflow" / "envs" / "ladder.yaml"


def third_party_imports(source: str) -> set[str]:
    """Top-level names of the modules `source` imports from outside the standard library
    and the package."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"replication_ladder"}


def test_the_rules_environment_pins_the_runtime_and_every_package_a_job_imports():
    """workflow/envs/ladder.yaml, every rule's `conda:`, lists the runtime pins of
    pyproject.toml but Snakemake's (a job's script finds the running Snakemake itself),
    and every distribution that the package's modules and the report notebooks import
    (read from their source, mapped to distributions by importlib.metadata)."""
    import json
    from importlib.metadata import packages_distributions

    environment = yaml.safe_load(RULE_ENVIRONMENT.read_text())
    listed = dict(
        entry.lower().split("==") for entry in environment["dependencies"] if "==" in entry
    )
    runtime = {
        name: version
        for name, version in pins().items()
        if name in {r.split("==")[0].lower() for r in PYPROJECT["project"]["dependencies"]}
        and not name.startswith("snakemake")
    }
    assert listed == runtime
    sources = [path.read_text() for path in (PROJECT / "workflow/replication_ladder").rglob("*.py")]
    for notebook in (PROJECT / "workflow/notebooks").glob("*.ipynb"):
        cells = json.loads(notebook.read_text())["cells"]
        sources += ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
    distributions = packages_distributions()
    imported = set().union(*map(third_party_imports, sources))
    missing = {
        name
        for name in imported
        if not {d.lower() for d in distributions.get(name, [name])} & set(listed)
    }
    assert not missing, f"imported by a job but not in {RULE_ENVIRONMENT.name}: {missing}"
    assert {"numpy", "pymc", "papermill"} <= imported  # the reading found the imports


def test_every_rule_with_a_job_names_the_rules_environment():
    from test_structure import rule_blocks

    for rule, body in rule_blocks().items():
        if "script:" in body:
            assert 'conda:\n        "../envs/ladder.yaml"' in body, rule
