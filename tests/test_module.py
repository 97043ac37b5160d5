"""The Snakemake catalog's ways in: the tests' config in .test/ given to Snakemake over the
shipped one, and the workflow used as a module by another workflow, under a prefix."""

import json
import shutil
import subprocess

import pytest
import yaml

from conftest import (
    COMPILE_CACHE,
    PROJECT,
    SEED,
    SNAKEMAKE,
    TEST_SAMPLER,
    config_copy,
    copy_workflow,
    linked_copy,
    snakemake,
)

pytestmark = pytest.mark.workflow


def test_snakemake_reads_the_test_config_as_the_tests_do(pipeline, tmp_path, rrr_mirror):
    """`--configfile .test/config.yaml` over the shipped config (the catalog's way to try
    a workflow) plans nothing in the shared pipeline, which the tests built from their own
    merge of the same file: Snakemake sees the same jobs with the same params."""
    run = linked_copy(pipeline, tmp_path / "run")
    shutil.copy(PROJECT / "config" / "config.yaml", run / "config" / "config.yaml")
    settings = {"mirror": rrr_mirror, "seed": SEED, "compile_cache": COMPILE_CACHE}
    plan = snakemake(run, "--dry-run", "--configfile", ".test/config.yaml", config=settings)
    assert "Nothing to be done" in plan.stdout + plan.stderr, plan.stdout[-3000:]
    # The same dry run without it plans the rest of the shipped ladder: the file counted.
    plan = snakemake(run, "--dry-run", "--quiet", "rules", config=settings)
    assert "Nothing to be done" not in plan.stdout + plan.stderr


HOST = """\
configfile: "config.yaml"


module ladder:
    snakefile: "{snakefile}"
    config: config["ladder"]
    prefix: "ladder"


use rule * from ladder exclude all, sbc_all as ladder_*


rule all:
    default_target: True
    input:
        "ladder/reports/linear.html",
"""


def test_the_workflow_runs_as_a_module_of_another_under_a_prefix(tmp_path, rrr_mirror):
    """A host workflow uses the ladder as docs/pipeline.md shows (`module`, `prefix`,
    `use rule * ... as ladder_*`): its rules run renamed, every file they write is under
    the prefix, and the report reads the prefixed artefacts."""
    ladder = copy_workflow(tmp_path / "replication-ladder")
    host = tmp_path / "host"
    host.mkdir()
    (host / "Snakefile").write_text(HOST.format(snakefile=ladder / "Snakefile"))
    config = config_copy() | {"mirror": str(rrr_mirror), "compile_cache": str(COMPILE_CACHE)}
    config |= {"preset": "smoke", "only": {}}
    config["sampling"]["sampler"] = TEST_SAMPLER
    (host / "config.yaml").write_text(yaml.safe_dump({"ladder": config}))
    result = subprocess.run(
        [*SNAKEMAKE, "--cores", "2"], cwd=host, capture_output=True, text=True, timeout=1200
    )
    assert result.returncode == 0, result.stderr[-6000:]
    assert "rule ladder_fit:" in result.stderr, result.stderr[-3000:]
    written = {path.parts[0] for path in (p.relative_to(host) for p in host.iterdir())}
    assert written == {"Snakefile", "config.yaml", ".snakemake", "ladder"}, written
    assert (host / "ladder/results/linear/linear/posterior.nc").is_file()
    notebook = json.loads((host / "ladder/reports/linear.ipynb").read_text())
    source = "".join("".join(cell["source"]) for cell in notebook["cells"])
    assert "ladder/results/linear/linear/summary.parquet" in source
    assert '"results/linear' not in source
