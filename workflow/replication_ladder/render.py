"""Render reports: execute the template with papermill, convert it to HTML, index them.

The executed notebook keeps its outputs; papermill's timestamps and temporary paths are
stripped so that rendering unchanged results twice gives the same bytes. The HTML has
the code hidden (a button shows it) and loads nothing from the network.
"""

import html
import json
import logging
import os
import re
import tempfile
from pathlib import Path

from replication_ladder.atomic import atomic_path, write_text

log = logging.getLogger(__name__)

KERNEL = "python3"  # ipykernel's own spec in the environment, never one in $HOME

# Volatile metadata papermill and nbclient write on every execution.
_VOLATILE_CELL_KEYS = ("execution",)
_VOLATILE_PAPERMILL_KEYS = ("start_time", "end_time", "duration", "input_path", "output_path")

_CODE_TOGGLE = """<style>
.jp-Cell-inputWrapper, .jp-InputArea {display: none;}
body.ladder-show-code .jp-Cell-inputWrapper, body.ladder-show-code .jp-InputArea {display: flex;}
#ladder-code-toggle {position: fixed; top: 0.6em; right: 0.6em; z-index: 10;}
</style>
<script>
function ladderToggleCode() {
  document.body.classList.toggle("ladder-show-code");
}
</script>
"""
_CODE_BUTTON = (
    '<button id="ladder-code-toggle" type="button" onclick="ladderToggleCode()">'
    "Show or hide code</button>"
)


def isolate_jupyter(cache_dir: Path) -> dict[str, str]:
    """Environment for the kernel: Jupyter's and IPython's files go to a cache directory
    of the project, not $HOME, and the environment's kernel spec wins over a user's."""
    cache_dir = Path(cache_dir).resolve()
    return {
        "JUPYTER_PREFER_ENV_PATH": "1",
        "JUPYTER_RUNTIME_DIR": tempfile.mkdtemp(prefix="ladder-jupyter-"),
        "JUPYTER_CONFIG_DIR": str(cache_dir / "jupyter"),
        "JUPYTER_DATA_DIR": str(cache_dir / "jupyter-data"),
        "IPYTHONDIR": str(cache_dir / "ipython"),
        "MPLCONFIGDIR": str(cache_dir / "matplotlib"),
    }


def strip_volatile(notebook: dict) -> dict:
    """Drop timestamps and temporary paths so that two renders are byte-identical."""
    papermill = notebook.get("metadata", {}).get("papermill", {})
    for key in _VOLATILE_PAPERMILL_KEYS:
        papermill.pop(key, None)
    for cell in notebook["cells"]:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell["id"] = "injected-parameters"  # papermill gives it a random id
        for key in _VOLATILE_CELL_KEYS:
            cell.get("metadata", {}).pop(key, None)
        cell_papermill = cell.get("metadata", {}).get("papermill", {})
        for key in _VOLATILE_PAPERMILL_KEYS:
            cell_papermill.pop(key, None)
    return notebook


def execute(template: Path, output: Path, parameters: dict, cwd: Path) -> None:
    """Run the template with papermill into `output` (atomically), volatile data stripped."""
    import nbformat
    import papermill

    with tempfile.TemporaryDirectory() as scratch:
        executed = Path(scratch) / "executed.ipynb"
        papermill.execute_notebook(
            str(template),
            str(executed),
            parameters=parameters,
            kernel_name=KERNEL,
            cwd=str(cwd),
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
        )
        notebook = strip_volatile(json.loads(executed.read_text()))
    nbformat.validate(nbformat.from_dict(notebook))
    write_text(output, json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def to_html(notebook_path: Path, html_path: Path, title: str) -> None:
    """HTML with the code hidden by default and no script or style from the network."""
    import nbformat
    from nbconvert import HTMLExporter

    notebook = nbformat.read(notebook_path, as_version=4)
    notebook.metadata["title"] = title
    exporter = HTMLExporter(
        template_name="lab", exclude_input_prompt=True, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(notebook)
    body = _offline(body)
    body = body.replace("</head>", _CODE_TOGGLE + "</head>", 1)
    body = re.sub(r"<body[^>]*>", lambda match: match.group(0) + _CODE_BUTTON, body, count=1)
    with atomic_path(html_path) as tmp:
        tmp.write_text(body, encoding="utf-8")


def _offline(body: str) -> str:
    """Remove the CDN scripts the lab template links (require.js, MathJax): the reports
    must open without a network, and they have no widgets or formulas to render."""
    return re.sub(r'<script[^>]*src="https?://[^"]*"[^>]*>\s*</script>', "", body)


def render_dataset(snakemake) -> None:
    parameters = {
        "dataset": snakemake.wildcards.dataset,
        "config": json.dumps(snakemake.params.settings, sort_keys=True),
        "data_dir": "data",
        "results_dir": "results",
        "figures_dir": snakemake.output.figures,
    }
    os.environ.update(isolate_jupyter(Path(snakemake.config["compile_cache"]).parent))
    execute(
        Path(snakemake.input.template), Path(snakemake.output.notebook), parameters, cwd=Path.cwd()
    )
    to_html(
        Path(snakemake.output.notebook),
        Path(snakemake.output.html),
        f"Replication Ladder: {snakemake.wildcards.dataset}",
    )
    log.info("rendered %s", snakemake.output.html)


# -- the index page ----------------------------------------------------------------------


def index_rows(datasets: list[str], results_dir: Path, ci_prob: float) -> list[dict]:
    """One line per dataset: its verdict or recovery, and the state of its fits."""
    import pandas as pd

    from replication_ladder.report import recovery_sentence

    diagnostics = pd.read_parquet(results_dir / "diagnostics.parquet").reset_index()
    rows = []
    for dataset in datasets:
        replication = results_dir / dataset / "replication.json"
        recovery = results_dir / dataset / "recovery.parquet"
        if replication.exists():
            headline = json.loads(replication.read_text())["verdict"]
        elif recovery.exists():
            headline = recovery_sentence(pd.read_parquet(recovery), ci_prob)
        else:
            headline = ""
        fits = diagnostics[diagnostics["dataset"] == dataset]
        warned = fits[fits["warnings"] != ""]
        status = (
            ("the fit converged" if len(fits) == 1 else f"all {len(fits)} fits converged")
            if warned.empty
            else f"{len(warned)} of {len(fits)} fits with warnings: "
            + "; ".join(
                f"{m}: {w}" for m, w in zip(warned["model"], warned["warnings"], strict=True)
            )
        )
        rows.append(
            {"dataset": dataset, "headline": headline, "status": status, "ok": warned.empty}
        )
    return rows


def index_html(rows: list[dict]) -> str:
    body = "\n".join(
        f'<tr><td><a href="{html.escape(row["dataset"])}.html">{html.escape(row["dataset"])}'
        f"</a></td><td>{html.escape(row['headline'])}</td>"
        f'<td class="{"ok" if row["ok"] else "warn"}">{html.escape(row["status"])}</td></tr>'
        for row in rows
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Replication Ladder: reports</title>
<style>
body {{font-family: sans-serif; margin: 2em; max-width: 70em;}}
table {{border-collapse: collapse;}}
td, th {{border-bottom: 1px solid #ccc; padding: 0.5em; text-align: left; vertical-align: top;}}
td.ok {{color: #2ca02c;}}
td.warn {{color: #d62728; font-weight: bold;}}
</style>
</head>
<body>
<h1>Replication Ladder</h1>
<p>One report per dataset: the data, each rung of the ladder, their comparison, and the
replication verdict or the recovery of the true parameters.</p>
<table>
<thead><tr><th>dataset</th><th>verdict or recovery</th><th>diagnostics</th></tr></thead>
<tbody>
{body}
</tbody>
</table>
</body>
</html>
"""


def index_main(snakemake) -> None:
    rows = index_rows(snakemake.params.datasets, Path("results"), snakemake.config["ci_prob"])
    write_text(snakemake.output[0], index_html(rows))
