"""Code dependencies are computed from the source, not listed: the static walk finds every
import (module level, inside functions, relative, `from x import module`), and what a
job really imports is a subset of what the walk found (checked by importing each entry
point in a fresh interpreter: an independent oracle)."""

import json
import subprocess
import sys
import textwrap

import pytest

from replication_ladder.jobs import dependencies
from replication_ladder.jobs.runtime import ENTRY_POINTS, entry_module

from conftest import PROJECT


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A package `replication_ladder` of five modules with every kind of import."""
    package = tmp_path / "replication_ladder"
    (package / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "entry.py": """
            import json
            from replication_ladder import helper
            from . import relative

            def run():
                from replication_ladder.sub.inner import thing  # inside a function
                return thing
        """,
        "helper.py": "import numpy",
        "relative.py": "from .sub import deep",
        "unused.py": "",
        "sub/__init__.py": "",
        "sub/inner.py": "thing = 1",
        "sub/deep.py": "from ..helper import numpy",
    }
    for name, text in files.items():
        (package / name).write_text(textwrap.dedent(text))
    monkeypatch.setattr(dependencies, "PACKAGE_DIR", package)
    dependencies.module_closure.cache_clear()
    yield package
    dependencies.module_closure.cache_clear()


def test_the_walk_follows_every_kind_of_import(fake_package):
    found = {
        p.relative_to(fake_package).as_posix()
        for p in dependencies.module_closure("replication_ladder.entry")
    }
    assert found == {
        "__init__.py",
        "entry.py",
        "helper.py",
        "relative.py",
        "sub/__init__.py",
        "sub/inner.py",
        "sub/deep.py",
    }


def test_a_module_outside_the_package_is_refused(fake_package):
    with pytest.raises(ValueError, match="not a module"):
        dependencies.module_closure("numpy")


def test_every_entry_point_exists():
    import importlib

    for rule, target in ENTRY_POINTS.items():
        module, function = target.split(":")
        assert function == rule, f"{rule}: entry function {function} is not named after its rule"
        assert callable(getattr(importlib.import_module(module), function)), target


@pytest.mark.parametrize("rule", sorted(ENTRY_POINTS))
def test_what_a_job_imports_is_found_by_the_walk(rule):
    """Import the entry module (and call nothing) in a fresh interpreter; every package
    module it loaded must be among the walk's files."""
    module = entry_module(rule)
    probe = (
        "import json, sys; import importlib; "
        f"importlib.import_module({module!r}); "
        "importlib.import_module('replication_ladder.jobs.runtime'); "
        "print(json.dumps(sorted(m.__file__ for n, m in sys.modules.items() "
        "if n.startswith('replication_ladder') and getattr(m, '__file__', None))))"
    )
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            check=True,
            cwd=PROJECT / "workflow",
        ).stdout
    )
    walked = {str(p) for p in dependencies.module_closure(module)} | {
        str(p) for p in dependencies.module_closure("replication_ladder.jobs.runtime")
    }
    assert set(loaded) <= walked, set(loaded) - walked


def test_every_module_is_run_by_some_job():
    """No module is dead code: each is in the closure of some job, of the modules the
    Snakefile imports (they decide job params and resources), or of the console script."""
    import re

    common = (PROJECT / "workflow" / "rules" / "common.smk").read_text()
    snakefile_modules = []
    for module, names in re.findall(r"^from (replication_ladder[\w.]*) import (.+)$", common, re.M):
        imported = [f"{module}.{name.split(' as ')[0].strip()}" for name in names.split(",")]
        snakefile_modules += [module, *(n for n in imported if dependencies.module_file(n))]
    run = set()
    for rule in ENTRY_POINTS:
        run |= set(dependencies.module_closure(entry_module(rule)))
    for module in [
        *snakefile_modules,
        "replication_ladder.jobs.runtime",
        "replication_ladder.scaffold.trial",
    ]:
        run |= set(dependencies.module_closure(module.split(" as ")[0]))
    for notebook in (PROJECT / "workflow" / "notebooks").glob("*.ipynb"):
        run |= set(dependencies.notebook_closure(notebook))
    every = {dependencies.module_file(name) for name in dependencies.package_modules()}
    assert every <= run, every - run
