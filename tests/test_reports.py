"""Reports: content, regeneration without refitting, identical bytes, Snakemake's report,
and every page opened in a real headless Chromium."""

import json
import os
import shutil
from pathlib import Path

import pytest
from browser import check_pages

from conftest import pipeline_config, snakemake

pytestmark = pytest.mark.workflow

REPORTED = ["rrr", "multisite", "linear", "categorical", "logit", "measurement_error"]


def linked_copy(source: Path, dest: Path) -> Path:
    """A copy of a finished run whose data files are hard links (fast, same mtimes).
    Files a test rewrites must be replaced, never edited in place."""
    shutil.copytree(source, dest, copy_function=os.link, symlinks=True)
    return dest


def test_every_dataset_has_a_report_and_the_index_links_them(pipeline):
    index = (pipeline / "reports/index.html").read_text()
    for dataset in REPORTED:
        assert f'href="{dataset}.html"' in index
        notebook = json.loads((pipeline / f"reports/{dataset}.ipynb").read_text())
        tags = [cell.get("metadata", {}).get("tags", []) for cell in notebook["cells"]]
        assert ["parameters"] in tags and ["injected-parameters"] in tags
        outputs = [o for cell in notebook["cells"] for o in cell.get("outputs", [])]
        assert not [o for o in outputs if o["output_type"] == "error"]
        assert sum("image/png" in o.get("data", {}) for o in outputs) >= 5
        page = (pipeline / f"reports/{dataset}.html").read_text()
        assert ".jp-InputArea {display: none;}" in page  # code hidden by default
        assert 'id="ladder-code-toggle"' in page
        assert 'src="http' not in page
        figures = {p.name for p in (pipeline / "reports" / dataset).iterdir()}
        assert {
            "ladder.forest.png",
            "ladder.loo.png",
            "ladder.pareto_k.png",
            "ladder.loo.csv",
        } <= figures
    verdict = json.loads((pipeline / "results/rrr/replication.json").read_text())["verdict"]
    assert verdict in index and "does not replicate" in verdict
    assert ("Recovery: " in index and "fits converged" in index) or "with warnings" in index


def test_report_sections(pipeline):
    rrr = (pipeline / "reports/rrr.html").read_text()
    for text in (
        "The data",
        "rows removed",
        "onverge",
        "common effects",
        "Site-level effects",
        "Replication verdict",
        "original study",
        "published meta-analysis",
        "Provenance",
        "git commit",
        "workflow config",
    ):
        assert text in rrr, text
    assert "<h3>Leave one site out</h3>" not in rrr  # not computed for the RRR here
    multisite = (pipeline / "reports/multisite.html").read_text()
    assert "<h3>Leave one site out</h3>" in multisite
    assert "<h2>Recovery of the true parameters</h2>" in multisite
    for dataset in ("rrr", "multisite"):
        assert {"ladder.site_effects.png"} <= {
            p.name for p in (pipeline / "reports" / dataset).iterdir()
        }
    # Recovery: estimates against the truth, marked in red in the figure.
    logit = (pipeline / "reports/logit.html").read_text()
    assert "<h2>Recovery of the true parameters</h2>" in logit
    assert (pipeline / "reports/logit/ladder.recovery.png").exists()


def test_editing_the_template_reruns_only_the_reports(pipeline, tmp_path, rrr_mirror):
    copy = linked_copy(pipeline, tmp_path / "run")
    idle = snakemake(copy, "--dry-run", config=pipeline_config(rrr_mirror))
    assert "Nothing to be done" in idle.stdout + idle.stderr
    template = copy / "workflow/notebooks/report.ipynb"
    notebook = json.loads(template.read_text())
    notebook["cells"].append(
        {
            "cell_type": "markdown",
            "id": "added",
            "metadata": {},
            "source": ["An edit of the template."],
        }
    )
    template.unlink()  # a new file, so the hard-linked original stays as it was
    template.write_text(json.dumps(notebook))
    dry = snakemake(copy, "--dry-run", "--quiet", "rules", config=pipeline_config(rrr_mirror))
    jobs = {
        line.split()[0]: int(line.split()[1])
        for line in dry.stdout.splitlines()
        if len(line.split()) == 2 and line.split()[1].isdigit()
    }
    assert jobs == {
        "report": len(REPORTED),
        "report_index": 1,
        "all": 1,
        "total": len(REPORTED) + 2,
    }, dry.stdout


def test_rendering_again_gives_the_same_bytes(pipeline, tmp_path, rrr_mirror):
    copy = linked_copy(pipeline, tmp_path / "run")
    before = {
        name: (pipeline / "reports" / name).read_bytes() for name in ("linear.ipynb", "linear.html")
    }
    snakemake(
        copy, "reports/linear.html", "--forcerun", "report", config=pipeline_config(rrr_mirror)
    )
    for name, content in before.items():
        assert (copy / "reports" / name).read_bytes() == content, name
    assert sorted(p.name for p in (copy / "reports/linear").iterdir()) == sorted(
        p.name for p in (pipeline / "reports/linear").iterdir()
    )


def test_snakemakes_own_report(pipeline, tmp_path, rrr_mirror):
    copy = linked_copy(pipeline, tmp_path / "run")
    for name in ("report.html", "report.zip"):
        snakemake(copy, "--report", str(tmp_path / name), config=pipeline_config(rrr_mirror))
        assert (tmp_path / name).stat().st_size > 100_000
    page = (tmp_path / "report.html").read_text()
    for category in ("rrr", "multisite", "Overview", "ladder.forest", "random_slope"):
        assert category in page, category


def test_reports_open_cleanly_in_chromium(pipeline):
    reports = pipeline / "reports"
    pages = [reports / "index.html", *(reports / f"{dataset}.html" for dataset in REPORTED)]
    screenshot = reports / "index.png"
    problems = check_pages(pages, screenshot=screenshot)
    assert problems == {str(page): [] for page in pages}
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot of the index: {screenshot}")
