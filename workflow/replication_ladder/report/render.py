"""Render reports: execute the template with papermill and convert it to HTML.

The executed notebook keeps its outputs; papermill's timestamps and temporary paths are
stripped so that rendering unchanged results twice gives the same bytes. The HTML has
the code hidden (a button shows it) and loads nothing from the network.
"""

import contextlib
import json
import logging
import os
import re
import tempfile
from pathlib import Path

from replication_ladder.base import paths
from replication_ladder.base.atomic import atomic_path, write_text
from replication_ladder.base.progress import Progress

log = logging.getLogger(__name__)

KERNEL = "python3"  # ipykernel's own spec in the environment, never one in $HOME

# Volatile metadata papermill and nbclient write on every execution.
_VOLATILE_CELL_KEYS = ("execution",)
_VOLATILE_PAPERMILL_KEYS = ("start_time", "end_time", "duration", "input_path", "output_path")

_CODE_TOGGLE = """<style>
.jp-CodeCell .jp-Cell-inputWrapper, .jp-CodeCell .jp-InputArea {display: none;}
body.ladder-show-code .jp-CodeCell .jp-Cell-inputWrapper,
body.ladder-show-code .jp-CodeCell .jp-InputArea {display: flex;}
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


@contextlib.contextmanager
def isolated_jupyter(cache_dir: Path):
    """Environment for the kernel while rendering: Jupyter's and IPython's files go to a
    cache directory of the project, not $HOME, the environment's kernel spec wins over a
    user's, and the kernel's runtime directory is removed afterwards."""
    cache_dir = Path(cache_dir).resolve()
    with tempfile.TemporaryDirectory(prefix="ladder-jupyter-") as runtime:
        settings = {
            "JUPYTER_PREFER_ENV_PATH": "1",
            "JUPYTER_RUNTIME_DIR": runtime,
            "JUPYTER_CONFIG_DIR": str(cache_dir / "jupyter"),
            "JUPYTER_DATA_DIR": str(cache_dir / "jupyter-data"),
            "IPYTHONDIR": str(cache_dir / "ipython"),
            "MPLCONFIGDIR": str(cache_dir / "matplotlib"),
        }
        saved = {key: os.environ.get(key) for key in settings}
        os.environ.update(settings)
        try:
            yield settings
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


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


def execute(
    template: Path, output: Path, parameters: dict, cwd: Path, progress: Progress | None = None
) -> None:
    """Run the template with papermill into `output` (atomically), volatile data stripped.
    With a `progress`, cells done of all are reported (nbclient's on_cell_complete hook,
    which papermill passes through; its own tqdm bar draws for a terminal only)."""
    import nbformat
    import papermill

    hooks = {}
    if progress is not None:
        # papermill adds a cell with the injected parameters.
        cells = len(nbformat.read(template, as_version=4).cells) + bool(parameters)
        progress.phase("executing the notebook")

        def cell_done(cell, cell_index):
            progress.steps(cell_index + 1, cells, "cells")

        hooks["on_cell_complete"] = cell_done
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
            **hooks,
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


def render(
    template: Path, notebook: Path, html_path: Path, parameters: dict, title: str, cache: Path
) -> None:
    """Execute a template into a notebook and convert it to HTML, both atomically."""
    progress = Progress(html_path.name)
    with isolated_jupyter(cache):
        execute(template, notebook, parameters, cwd=Path.cwd(), progress=progress)
    progress.phase("writing the HTML")
    to_html(notebook, html_path, title)
    log.info("rendered %s", html_path)


def render_job(snakemake, title: str) -> None:
    """A report rule's job: its template run with its params (as JSON) and figures dir."""
    params = dict(snakemake.params.items())
    params["inputs"] = paths.relocated(params["inputs"], snakemake.input.artefacts)
    parameters = {name: json.dumps(value, sort_keys=True) for name, value in params.items()}
    render(
        Path(snakemake.input.template),
        Path(snakemake.output.notebook),
        Path(snakemake.output.html),
        {**parameters, "figures_dir": snakemake.output.figures},
        title,
        Path(snakemake.config["compile_cache"]).parent,
    )
