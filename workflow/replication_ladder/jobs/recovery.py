"""The `recovery` rule's job: what it reads from Snakemake, handed to
replication_ladder.calibration.recovery."""

import json
import logging
from pathlib import Path

import pandas as pd

from replication_ladder.base.atomic import write_parquet
from replication_ladder.calibration.recovery import recovered

log = logging.getLogger(__name__)


def recovery(snakemake) -> None:
    spec = snakemake.params.spec
    truth = json.loads(Path(snakemake.input.truth).read_text())["parameters"]
    summaries = {
        model: pd.read_parquet(path)
        for model, path in zip(spec["models"], snakemake.input.summaries, strict=True)
    }
    table = recovered(truth, summaries, spec["ci_prob"], spec["levels"])
    write_parquet(snakemake.output[0], table)
    for model, part in table.groupby("model"):
        log.info(
            "%s: %d of %d true values inside the %.0f%% interval",
            model,
            part["covered"].sum(),
            len(part),
            100 * spec["ci_prob"],
        )
