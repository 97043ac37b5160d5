"""Test tiers, enforced: a test that runs Snakemake, SLURM, a browser or a sampler beyond the
smoke preset's size must carry the marker of its tier, or the run stops.

Tiers (markers, declared in pyproject.toml):
  quick      everything else: no Snakemake run, no sampling above the smoke preset
             (given automatically to a test with none of the markers below)
  sampling   samples beyond the smoke preset: statistical checks against a reference
  workflow   runs Snakemake on a copy of the workflow
  slurm      submits to the one-node SLURM cluster the tests start
  browser    opens reports in headless Chromium

Two checks, so that a tier cannot drift from what its tests do:
  at collection, from what a test asks for (its fixtures) and what its body calls;
  while it runs, by guards on subprocess start-ups and on the samplers.
"""

import ast
import inspect
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

TIERS = ("sampling", "workflow", "slurm", "browser")
# The largest sampling a quick test may do: the smoke preset of the shipped config.
_CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
SMOKE = yaml.safe_load(_CONFIG.read_text())["presets"]["smoke"]["sampling"]

# What needs which tier: fixtures a test requests, and names its body calls.
FIXTURE_TIERS = {
    "pipeline": "workflow",
    "workflow_copy": "workflow",
    "cluster": "slurm",
    "slurm_pipeline": "slurm",
}
CALL_TIERS = {
    "snakemake": "workflow",
    "start_run": "workflow",
    "finish_run": "workflow",
    "local_slurm": "slurm",
    "check_pages": "browser",
}
# Executables whose start marks a tier, wherever they are started from.
PROCESS_TIERS = {
    "snakemake": "workflow",
    "run-pipeline": "workflow",
    "slurmctld": "slurm",
    "slurmd": "slurm",
    "sbatch": "slurm",
    "chromium": "browser",
}
# Timeouts per tier (seconds): a hang fails with the test's name. The first test to use a
# session fixture pays for it (the shared pipeline, the cluster).
TIMEOUTS = {"quick": 120, "sampling": 600, "workflow": 1500, "slurm": 1800, "browser": 600}
# The session's shared runs, by the fixture that makes them: the tests that use one go to
# one pytest-xdist worker (`--dist loadgroup`), so that each run happens once.
SHARED_RUNS = {"pipeline": "pipeline", "cluster": "slurm", "slurm_run": "slurm"}
# The order tests are handed to the workers in: xdist's loadgroup starts the shared runs'
# groups first (largest first) and then hands out single tests in collection order, so the
# slow tiers go first and the quick tests even out the workers' ends, not a 4-minute
# workflow test picked up last while the other worker idles.
TIER_ORDER = ("slurm", "workflow", "browser", "sampling")  # then the quick tier


def _called_names(function) -> set[str]:
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        return set()
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            target = node.func
            if isinstance(target, ast.Name):
                names.add(target.id)
            elif isinstance(target, ast.Attribute):
                names.add(target.attr)
    return names


def needed_tiers(item) -> set[str]:
    """The tiers a collected test needs, from its fixtures and the calls in its body."""
    needed = {FIXTURE_TIERS[name] for name in item.fixturenames if name in FIXTURE_TIERS}
    function = getattr(item, "function", None)
    needed |= {CALL_TIERS[name] for name in _called_names(function) if name in CALL_TIERS}
    return needed


def uses_module_fixture(item) -> bool:
    definitions = getattr(item, "_fixtureinfo", None)
    if definitions is None:
        return False
    return any(
        chain[-1].scope == "module" for chain in definitions.name2fixturedefs.values() if chain
    )


def tiers_of(item) -> set[str]:
    return {tier for tier in TIERS if item.get_closest_marker(tier) is not None}


# First, so that xdist sees the groups when it reads them.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    missing = []
    for item in items:
        marked = tiers_of(item)
        if not marked:
            item.add_marker(pytest.mark.quick)
        groups = {SHARED_RUNS[name] for name in item.fixturenames if name in SHARED_RUNS}
        if len(groups) > 1:  # it would run both on one worker and one of them twice
            missing.append(f"{item.nodeid}: uses both shared runs {sorted(groups)}")
        # A module's fixture is built once per worker: its tests share one (a test
        # module's fits, its servers), as a shared run's do.
        groups = groups or ({item.module.__name__} if uses_module_fixture(item) else set())
        for group in groups:
            item.add_marker(pytest.mark.xdist_group(group))
        lacking = needed_tiers(item) - marked
        if lacking:
            missing.append(f"{item.nodeid}: needs @pytest.mark.{', '.join(sorted(lacking))}")
        if item.get_closest_marker("timeout") is None:
            ceiling = max(TIMEOUTS[tier] for tier in marked or {"quick"})
            item.add_marker(pytest.mark.timeout(ceiling))
    if missing:
        raise pytest.UsageError(
            "tests that break the tiers' rules (see tests/tiers.py):\n  " + "\n  ".join(missing)
        )
    items.sort(key=handing_order)


def handing_order(item) -> int:
    return min((TIER_ORDER.index(tier) for tier in tiers_of(item)), default=len(TIER_ORDER))


class TierViolation(AssertionError):
    """A test did something its markers do not allow."""


def _process_tier(args) -> str | None:
    words = [args] if isinstance(args, str | Path) else list(args)
    text = " ".join(str(word) for word in words)
    for name, tier in PROCESS_TIERS.items():
        if any(Path(str(word)).name == name for word in words) or f"-m {name}" in text:
            return tier
    return None


def _check_sampling(nodeid: str, allowed: bool, draws, tune, chains) -> None:
    if allowed:
        return
    sizes = {"draws": draws, "tune": tune, "chains": chains}
    over = {k: v for k, v in sizes.items() if v is not None and v > SMOKE[k]}
    if over:
        raise TierViolation(
            f"{nodeid} samples beyond the smoke preset ({over} > {SMOKE}): "
            "mark it @pytest.mark.sampling"
        )


@pytest.fixture(autouse=True)
def tier_guard(request, monkeypatch):
    """Stop a test the moment it starts something its tier does not allow."""
    marked = tiers_of(request.node)
    nodeid = request.node.nodeid
    popen = subprocess.Popen

    class GuardedPopen(popen):
        def __init__(self, args, *rest, **kwargs):
            tier = _process_tier(args)
            if tier is not None and tier not in marked:
                raise TierViolation(f"{nodeid} starts {tier} work: mark it @pytest.mark.{tier}")
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", GuardedPopen)
    big_sampling = bool(marked & {"sampling"})
    import nutpie
    import pymc

    def guarded(sample, defaults):
        """`sample` that first checks its sizes (a sampler's own defaults when not given)."""

        def check_then_sample(*args, **kwargs):
            sizes = [kwargs.get(key, default) for key, default in defaults.items()]
            _check_sampling(nodeid, big_sampling, *sizes)
            return sample(*args, **kwargs)

        return check_then_sample

    # Each sampler's own defaults for what a call leaves out.
    monkeypatch.setattr(
        pymc, "sample", guarded(pymc.sample, {"draws": 1000, "tune": 1000, "chains": None})
    )
    monkeypatch.setattr(
        nutpie, "sample", guarded(nutpie.sample, {"draws": 1000, "tune": 300, "chains": 6})
    )
    yield
