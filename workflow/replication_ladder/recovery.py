"""Parameter recovery on synthetic data: is each true value inside its credible interval?

Only models that estimate every parameter of the generator are checked (a fixed-effects
model has no site SDs to compare, and its residual SD absorbs the sites' spread).
"""

import json
import logging
from pathlib import Path

import pandas as pd

from replication_ladder.atomic import write_parquet

log = logging.getLogger(__name__)

COLUMNS = ["model", "parameter", "true_value", "mean", "ci_low", "ci_high", "covered", "ci_prob"]


def recovery_table(
    truth: dict[str, float], summaries: dict[str, pd.DataFrame], ci_prob: float
) -> pd.DataFrame:
    rows = []
    for model, summary in summaries.items():
        missing = [name for name in truth if name not in summary.index]
        if missing:
            log.info("%s does not estimate %s: not a recovery candidate", model, missing[0])
            continue
        for name, value in truth.items():
            estimate = summary.loc[name]
            rows.append(
                {
                    "model": model,
                    "parameter": name,
                    "true_value": float(value),
                    "mean": float(estimate["mean"]),
                    "ci_low": float(estimate["ci_low"]),
                    "ci_high": float(estimate["ci_high"]),
                    "covered": bool(estimate["ci_low"] <= value <= estimate["ci_high"]),
                    "ci_prob": ci_prob,
                }
            )
    if not rows:
        log.warning("no model of the ladder estimates every parameter of the generator")
    return pd.DataFrame(rows, columns=COLUMNS).astype({"covered": bool})


def main(snakemake) -> None:
    truth = json.loads(Path(snakemake.input.truth).read_text())["parameters"]
    summaries = {
        model: pd.read_parquet(path)
        for model, path in zip(snakemake.params.models, snakemake.input.summaries, strict=True)
    }
    table = recovery_table(truth, summaries, snakemake.config["ci_prob"])
    write_parquet(snakemake.output[0], table)
    for model, part in table.groupby("model"):
        log.info(
            "%s: %d of %d true values inside the %.0f%% interval",
            model,
            part["covered"].sum(),
            len(part),
            100 * snakemake.config["ci_prob"],
        )


def gather_main(snakemake) -> None:
    tables = [
        pd.read_parquet(path).assign(dataset=dataset)
        for dataset, path in zip(snakemake.params.datasets, snakemake.input, strict=True)
    ]
    table = pd.concat(tables, ignore_index=True)
    write_parquet(snakemake.output[0], table[["dataset", *COLUMNS]])
