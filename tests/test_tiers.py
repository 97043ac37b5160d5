"""The tiers hold: a test that runs Snakemake, a browser, SLURM or a sampler beyond the smoke
preset without its marker stops the run (at collection) or fails (while it runs).

Checked on throwaway test files run by pytest's own `pytester`, with this project's tier
plugin loaded."""

import pytest

from conftest import PROJECT

pytest_plugins = ["pytester"]

PLUGIN_SETUP = f"""
import sys
sys.path.insert(0, {str(PROJECT / "tests")!r})
pytest_plugins = ["tiers"]
"""


def run(pytester, source: str, *args: str):
    pytester.makeconftest(PLUGIN_SETUP)
    pytester.makepyfile(test_probe=source)
    pytester.makeini(
        "[pytest]\nmarkers =\n"
        + "".join(
            f"    {tier}: {tier}\n"
            for tier in ("quick", "sampling", "workflow", "slurm", "browser")
        )
    )
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)


def test_a_snakemake_call_without_its_marker_fails_collection(pytester):
    result = run(
        pytester,
        """
def snakemake(*args):
    pass

def test_runs_the_workflow():
    snakemake("results")
""",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_runs_the_workflow: needs @pytest.mark.workflow*"])


def test_the_pipeline_fixture_needs_the_workflow_marker(pytester):
    result = run(
        pytester,
        """
import pytest

@pytest.fixture
def pipeline():
    return None

def test_reads_outputs(pipeline):
    assert pipeline is None
""",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_reads_outputs: needs @pytest.mark.workflow*"])


def test_tests_on_one_shared_run_share_a_worker_and_none_uses_two(pytester):
    """Under pytest-xdist's loadgroup the tests on a shared run carry its group (xdist
    appends it to their ids on the worker); a test on both shared runs stops the run."""
    shared = """
import pytest

@pytest.fixture
def pipeline():
    return None

@pytest.fixture
def cluster():
    return None

@pytest.mark.workflow
def test_on_the_pipeline(pipeline, request):
    assert request.node.nodeid.endswith("@pipeline")

@pytest.mark.slurm
def test_on_the_cluster(cluster, request):
    assert request.node.nodeid.endswith("@slurm")
"""
    result = run(pytester, shared, "-n", "2", "--dist", "loadgroup")
    result.assert_outcomes(passed=2)
    both = (
        shared
        + """
@pytest.mark.workflow
@pytest.mark.slurm
def test_on_both(pipeline, cluster):
    pass
"""
    )
    result = run(pytester, both)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_on_both: uses both shared runs ?'pipeline', 'slurm'?"])


def test_tests_on_a_module_fixture_share_a_worker(pytester):
    """A module-scoped fixture is built once per worker: the tests that use one carry
    their module's group, so that it is built once; the others are handed out alone."""
    source = """
import pytest

@pytest.fixture(scope="module")
def fitted():
    return 1

def test_one(fitted, request):
    assert request.node.nodeid.endswith("@test_probe")

def test_two(fitted, request):
    assert request.node.nodeid.endswith("@test_probe")

def test_alone(request):
    assert "@" not in request.node.nodeid
"""
    result = run(pytester, source, "-n", "2", "--dist", "loadgroup")
    result.assert_outcomes(passed=3)


def test_a_browser_check_needs_the_browser_marker(pytester):
    result = run(
        pytester,
        """
import pytest

def check_pages(pages):
    return {}

@pytest.mark.workflow
def test_opens_pages():
    check_pages([])
""",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_opens_pages: needs @pytest.mark.browser*"])


def test_starting_snakemake_in_a_quick_test_fails_it(pytester):
    """A helper the collection check cannot see still trips the runtime guard."""
    result = run(
        pytester,
        """
import subprocess, sys

def indirect():
    subprocess.run([sys.executable, "-m", "snakemake", "--version"], capture_output=True)

def test_sneaky():
    indirect()
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*starts workflow work: mark it @pytest.mark.workflow*"])


def test_sampling_beyond_smoke_in_a_quick_test_fails_it(pytester):
    result = run(
        pytester,
        """
import pymc as pm

def test_samples_big():
    with pm.Model():
        pm.Normal("x")
        pm.sample(draws=1000, tune=100, chains=2, progressbar=False)
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*samples beyond the smoke preset*mark it @pytest.mark.sampling*"])


def test_marked_tests_run_and_unmarked_ones_are_quick(pytester):
    result = run(
        pytester,
        """
import subprocess, sys
import pytest

@pytest.mark.workflow
def test_marked():
    subprocess.run([sys.executable, "-m", "snakemake", "--version"], capture_output=True)

def test_plain():
    assert True
""",
        "-m",
        "quick",
    )
    result.assert_outcomes(passed=1, deselected=1)


def test_every_test_gets_a_timeout(pytester):
    result = run(
        pytester,
        """
def test_plain(request):
    marker = request.node.get_closest_marker("timeout")
    assert marker is not None and marker.args[0] > 0
""",
    )
    result.assert_outcomes(passed=1)


def test_the_slow_tiers_are_handed_out_first(pytester):
    """Collection puts the slow tiers first, in their own order, and the quick tests last,
    so that the workers' last tests are short ones (xdist hands them out in this order)."""
    source = """
import pytest

def test_quick_first_in_the_file():
    pass

@pytest.mark.sampling
def test_sampling():
    pass

@pytest.mark.workflow
def test_workflow():
    pass

def test_quick_last_in_the_file():
    pass

@pytest.mark.slurm
def test_slurm():
    pass
"""
    result = run(pytester, source, "--collect-only", "-q")
    names = [line.split("::")[1] for line in result.outlines if "::" in line]
    assert names == [
        "test_slurm",
        "test_workflow",
        "test_sampling",
        "test_quick_first_in_the_file",
        "test_quick_last_in_the_file",
    ]
