"""Reports: rendering again gives the same bytes, Snakemake's own report, no temporary
directory left behind, and every page opened in a real headless Chromium."""

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from browser import check_pages, screenshot_figures

from replication_ladder.report.render import isolated_jupyter

from conftest import linked_copy, snakemake


@pytest.mark.workflow
def test_rendering_again_gives_the_same_bytes(pipeline, tmp_path):
    copy = linked_copy(pipeline, tmp_path / "run")
    before = {
        name: (pipeline / "reports" / name).read_bytes() for name in ("linear.ipynb", "linear.html")
    }
    snakemake(copy, "reports/linear.html", "--forcerun", "report")
    for name, content in before.items():
        assert (copy / "reports" / name).read_bytes() == content, name
    assert sorted(p.name for p in (copy / "reports/linear").iterdir()) == sorted(
        p.name for p in (pipeline / "reports/linear").iterdir()
    )


@pytest.mark.workflow
def test_snakemakes_own_report(pipeline, tmp_path):
    copy = linked_copy(pipeline, tmp_path / "run")
    for name in ("report.html", "report.zip"):
        snakemake(copy, "--report", str(tmp_path / name))
        assert (tmp_path / name).stat().st_size > 100_000
    page = (tmp_path / "report.html").read_text()
    for category in ("rrr", "multisite", "Overview", "ladder.forest", "participant"):
        assert category in page, category


def test_the_renderer_removes_its_temporary_directories(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    before = os.environ.get("JUPYTER_RUNTIME_DIR")
    with isolated_jupyter(tmp_path / "cache") as settings:
        runtime = Path(settings["JUPYTER_RUNTIME_DIR"])
        assert runtime.is_dir() and os.environ["JUPYTER_RUNTIME_DIR"] == str(runtime)
        (runtime / "kernel-1.json").write_text("{}")
    assert not runtime.exists()
    assert list((tmp_path / "tmp").iterdir()) == []
    assert os.environ.get("JUPYTER_RUNTIME_DIR") == before


@pytest.mark.workflow
@pytest.mark.browser
def test_reports_open_cleanly_in_chromium(pipeline):
    reports = pipeline / "reports"
    pages = [
        reports / "index.html",
        *sorted(p for p in reports.glob("*.html") if p.name != "index.html"),
    ]
    screenshot = reports / "index.png"
    problems = check_pages(pages, screenshot=screenshot)
    assert problems == {str(page): [] for page in pages}
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot of the index: {screenshot}")


# ArviZ's figures (issue 33) in the RRR report: a rootogram, the power-scaling
# sensitivity, the Pareto k and the Savage-Dickey densities.
ARVIZ_FIGURES = ("participant.ppc", "participant.psense", "ladder.pareto_k", "ladder.savage_dickey")


@pytest.mark.workflow
@pytest.mark.browser
def test_chromium_shows_arviz_figures_in_the_rrr_report(pipeline):
    """Each figure's PNG is on the page, laid out at a readable size, and a screenshot of
    it as Chromium drew it is kept beside the reports (reports/screenshots/rrr/) and is
    not blank: its pixels vary."""
    from PIL import Image

    report = pipeline / "reports/rrr"
    figures = {name: (report / f"{name}.png").read_bytes() for name in ARVIZ_FIGURES}
    shots = pipeline / "reports/screenshots/rrr"
    shown = screenshot_figures(pipeline / "reports/rrr.html", figures, shots)
    assert sorted(shown) == sorted(ARVIZ_FIGURES)
    for name, found in shown.items():
        assert found["box"]["width"] >= 400 and found["box"]["height"] >= 150, name
        pixels = np.asarray(Image.open(found["path"]).convert("L"), dtype=float)
        assert pixels.std() > 10, f"{name}: the screenshot is blank"
        print(f"screenshot of {name}: {found['path']}")
