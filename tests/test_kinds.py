"""The package's shape: a new rung kind is one module and a registry line
(replication_ladder/kinds), the schema's lists are the code's, no class is long."""

import numpy as np
import pandas as pd
import pytest
from example_kind import Welch

from replication_ladder.base.errors import ConfigError
from replication_ladder.config import Ladder, load_schema
from replication_ladder.data import readers
from replication_ladder.data import synthetic as datasets
from replication_ladder.models import samplers
from replication_ladder.models.kinds import KINDS, build_rung
from replication_ladder.models.samplers import compile_rung

from conftest import SMOKE, config_copy


def test_the_schemas_lists_are_the_codes():
    """Each list of names the schema allows is the constant the code dispatches on."""
    definitions = load_schema()["$defs"]
    assert definitions["sampler"]["enum"] == list(samplers.SAMPLERS)
    assert definitions["read"]["properties"]["format"]["enum"] == list(readers.FORMATS)
    generators = definitions["source"]["properties"]["generator"]["enum"]
    assert generators == list(datasets.GENERATORS)
    assert definitions["model"]["properties"]["kind"]["enum"] == list(KINDS)


@pytest.fixture
def welch_registered(monkeypatch):
    """The registry line of the example kind: KINDS["welch"] = Welch()."""
    monkeypatch.setitem(KINDS, "welch", Welch())
    load_schema.cache_clear()  # the schema reads the registry when loaded
    yield
    monkeypatch.undo()
    load_schema.cache_clear()


def welch_config(**entry) -> dict:
    config = config_copy()
    config["datasets"]["multisite"]["models"]["welch"] = {"kind": "welch", **entry}
    return config


def test_a_kind_is_one_module_and_a_registry_line(welch_registered):
    """tests/example_kind.py registered by one line: the config plans it (its columns,
    level, kind of likelihood, that it ignores the sites), checks it (a missing formula,
    a group that is not binary) and the fit samples it. Its estimate of the difference in
    means is checked against the closed form with 400 rows and wide priors: the
    difference of the sample means, with Welch's standard error
    sqrt(s0^2/n0 + s1^2/n1)."""
    ladder = Ladder(welch_config(formula="value ~ condition"))
    assert ladder.model_columns("multisite", "welch") == ("value", ["condition"])
    assert ladder.rung_level("multisite", "welch") == "rows"
    assert ladder.likelihood_kind("multisite", "welch") == "continuous"
    assert not ladder.respects_design("multisite", "welch")
    assert "welch" in ladder.report_settings("multisite")["descriptions"]
    with pytest.raises(ConfigError, match=r"models\.welch: 'formula' is a required property"):
        Ladder(welch_config())
    with pytest.raises(ConfigError, match=r"models\.welch\.formula: 'study' must be a binary"):
        Ladder(welch_config(formula="value ~ study"))

    rng = np.random.default_rng(5)
    condition = np.repeat([0, 1], 200)
    value = np.where(condition == 1, rng.normal(1.3, 2.0, 400), rng.normal(1.0, 0.5, 400))
    data = pd.DataFrame({"value": value, "condition": condition})
    spec = ladder.model_spec("multisite", "welch")
    spec["sampling"] = {**spec["sampling"], **SMOKE, "sampler": "nutpie"}
    rung = build_rung(spec, data)
    difference = compile_rung(rung, spec["sampling"]).sample(1, 2)["posterior"]["condition"]
    groups = [value[condition == g] for g in (0, 1)]
    closed = groups[1].mean() - groups[0].mean()
    se = np.sqrt(sum(g.var(ddof=1) / g.size for g in groups))
    assert abs(float(difference.mean()) - closed) < 0.3 * se  # 200 draws: MCSE ~0.07 se
    assert abs(float(difference.std()) / se - 1) < 0.2


def test_no_class_of_the_package_is_over_150_lines_nor_function_over_80():
    """The house rules, read from the syntax tree of every module of the package."""
    import ast

    from replication_ladder.jobs import dependencies

    limits = {ast.ClassDef: 150, ast.FunctionDef: 80, ast.AsyncFunctionDef: 80}
    long = []
    for path in sorted(dependencies.PACKAGE_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            lines = getattr(node, "end_lineno", 0) - getattr(node, "lineno", 0) + 1
            if type(node) in limits and lines > limits[type(node)]:
                long.append(f"{path.name}: {node.name}, {lines} lines")
    assert long == []
