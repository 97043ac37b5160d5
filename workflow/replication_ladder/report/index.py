"""The reports' index page: a line per dataset with its verdict or recovery and the state
of its fits, from the files the rule declared."""

import json
from pathlib import Path


def index_rows(datasets: dict[str, dict], diagnostics_path: Path, ci_prob: float) -> list[dict]:
    """One line per dataset: its verdict or recovery, and the state of its fits. Only the
    files the rule declared are read: a dataset's entry names its replication and
    recovery files, or None."""
    import pandas as pd

    from replication_ladder.report.html import recovery_sentence

    diagnostics = pd.read_parquet(diagnostics_path).reset_index()
    rows = []
    for dataset, files in datasets.items():
        if files.get("replication"):
            headline = json.loads(Path(files["replication"]).read_text())["verdict"]
        elif files.get("recovery"):
            headline = recovery_sentence(pd.read_parquet(files["recovery"]), ci_prob)
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
