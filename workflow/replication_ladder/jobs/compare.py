"""The `compare` rule's job: what it reads from Snakemake, handed to
replication_ladder.scoring.compare."""

import json
import logging
from pathlib import Path

import pandas as pd

from replication_ladder.base.atomic import write_parquet
from replication_ladder.scoring.compare import compare_ladder

log = logging.getLogger(__name__)


def compare(snakemake) -> None:
    spec = snakemake.params.spec
    models = spec["compared"]
    scores = {
        m: json.loads(Path(p).read_text())
        for m, p in zip(models, snakemake.input.scores, strict=True)
    }
    pointwise = {
        m: pd.read_parquet(p) for m, p in zip(models, snakemake.input.pointwise, strict=True)
    }
    table = compare_ladder(scores, pointwise, spec["excluded"], where=snakemake.output[0])
    write_parquet(snakemake.output[0], table)
    log.info("LOO comparison:\n%s", table[["rank", "elpd", "se", "elpd_diff", "dse", "weight"]])
    for model, reason in spec["excluded"].items():
        log.info("%s is not compared: %s", model, reason)
