"""A dataset's report: tables and figures from the artefacts its rule declared.

`DatasetReport` holds what the workflow wrote about one dataset (loaded by
report.loaders) and saves each figure as a PNG and each main table as a CSV beside the
report, for Snakemake's own report. The report notebook (workflow/notebooks/report.ipynb)
shows one `Section` after another, a module each (data, rungs, ladder, meta_analysis,
recovery, predictions, verdict, provenance): a section hands data to pure figure
functions (report.figures) and HTML fragments (report.html). Nothing here fits a model.
"""

import io
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from replication_ladder.base.atomic import write_bytes, write_text
from replication_ladder.report import html as fragments
from replication_ladder.report import loaders
from replication_ladder.report.tables import printable

DPI = 80
STYLE = fragments.STYLE


class DatasetReport:
    """Everything the workflow wrote about one dataset, by the names its rule gave."""

    def __init__(self, settings: dict, inputs: dict, figures_dir: str | Path):
        self.settings = settings
        self.spec = settings["spec"]
        self.dataset = settings["dataset"]
        self.inputs = inputs
        self.figures_dir = Path(figures_dir)
        self.figures_dir.mkdir(parents=True, exist_ok=True)
        self._last_posterior = (None, None)

    # -- artefacts --------------------------------------------------------------------

    @property
    def models(self) -> list[str]:
        return list(self.settings["models"])

    @property
    def row_models(self) -> list[str]:
        return [m for m in self.models if self.settings["levels"][m] == "rows"]

    def fit(self, model: str, name: str):
        return self.inputs["fits"][model].get(name)

    @cached_property
    def record(self) -> dict:
        return loaders.read_json(self.inputs["record"])

    @cached_property
    def data(self) -> pd.DataFrame:
        return loaders.read_parquet(self.inputs["data"])

    def diagnostics(self, model: str) -> dict:
        return loaders.read_json(self.fit(model, "diagnostics"))

    def summary(self, model: str) -> pd.DataFrame:
        return loaders.read_parquet(self.fit(model, "summary"))

    def priors_text(self, model: str) -> str:
        return loaders.read_text(self.fit(model, "priors_txt"))

    def posterior(self, model: str):
        """A fit's posterior, sample stats and observed data. The last one read is kept:
        a rung's trace and rank plots come one after the other, and keeping every rung's
        would hold them all in memory."""
        if self._last_posterior[0] != model:
            self._last_posterior = (model, loaders.read_posterior(self.fit(model, "posterior")))
        return self._last_posterior[1]

    @cached_property
    def loo(self) -> pd.DataFrame:
        return loaders.read_parquet(self.inputs["comparison"])

    @cached_property
    def recovery(self) -> pd.DataFrame | None:
        return loaders.read_parquet(self.inputs.get("recovery"))

    @cached_property
    def loso(self) -> pd.DataFrame | None:
        return loaders.read_parquet(self.inputs.get("loso"))

    @cached_property
    def loso_sites(self) -> pd.DataFrame | None:
        return loaders.read_parquet(self.inputs.get("loso_sites"))

    @cached_property
    def replication(self) -> dict | None:
        return loaders.read_json(self.inputs.get("replication"))

    @cached_property
    def site_estimates(self) -> pd.DataFrame | None:
        return loaders.read_parquet(self.inputs.get("sites"))

    @cached_property
    def predictions(self) -> dict[str, pd.DataFrame] | None:
        if not self.spec["predict"]:
            return None
        return {m: loaders.read_parquet(self.fit(m, "predictions")) for m in self.row_models}

    @cached_property
    def outcome(self) -> tuple[str, np.ndarray]:
        """The modelled outcome (name and observed values) of the first row-level rung."""
        return loaders.observed_outcome(self.fit(self.row_models[0], "posterior"))

    @property
    def outcome_label(self) -> str:
        outcome = self.settings["outcome"]
        return outcome["label"] + (f" ({outcome['unit']})" if outcome["unit"] else "")

    @property
    def treatment(self) -> str | None:
        return (self.spec.get("replication") or {}).get("treatment")

    # -- saving ---------------------------------------------------------------------

    def save(self, fig, name: str):
        """Save a figure as <figures_dir>/<name>.png; return that PNG for display, so the
        report shows exactly the file Snakemake's report gets."""
        import matplotlib.pyplot as plt
        from IPython.display import Image

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
        plt.close(fig)
        write_bytes(self.figures_dir / f"{name}.png", buffer.getvalue())
        return Image(data=buffer.getvalue(), format="png")

    def table(
        self, frame: pd.DataFrame, name: str, units: dict[str, str] | None = None
    ) -> pd.DataFrame:
        """Save `frame` at full precision as <name>.csv; return it rounded for the page,
        with `units` in its headers."""
        write_text(self.figures_dir / f"{name}.csv", frame.to_csv())
        return printable(frame, units)


class Section:
    """A part of a dataset's report: its tables and figures, from the artefacts of a
    `DatasetReport`, which also saves them beside the report."""

    def __init__(self, report: DatasetReport):
        self.report = report
