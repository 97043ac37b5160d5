"""Every fit's diagnostics in one table (results/diagnostics.parquet): convergence,
prior and likelihood sensitivity, timings and provenance, one row per (dataset, model)."""

import json
from pathlib import Path

import pandas as pd

LISTS = ("warnings", "prior_data_conflict", "weak_likelihood")


def gather_diagnostics(paths) -> pd.DataFrame:
    """One row per fit from the diagnostics files (nested fields flattened, lists joined)."""
    rows = []
    for path in paths:
        record = json.loads(Path(path).read_text())
        for key in LISTS:
            record[key] = "; ".join(record.get(key) or [])
        rows.append(record)
    table = pd.json_normalize(rows, sep=".")
    for column in table.columns:  # lists nested deeper (CPU flags) as text
        if table[column].map(lambda value: isinstance(value, list)).any():
            table[column] = table[column].map(lambda value: " ".join(map(str, value or [])))
    return table.set_index(["dataset", "model"]).sort_index()
