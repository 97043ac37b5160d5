"""The `new_rows` rule's job: what it reads from Snakemake, handed to
replication_ladder.models.predict."""

import logging
from pathlib import Path

import pandas as pd

from replication_ladder.base.atomic import write_parquet
from replication_ladder.models.predict import rows_to_predict

log = logging.getLogger(__name__)


def new_rows(snakemake) -> None:
    spec = snakemake.params.spec
    source = snakemake.input.source  # a file, or none for a grid
    rows = rows_to_predict(
        spec, pd.read_parquet(snakemake.input.data), Path(source[0]) if source else None
    )
    write_parquet(snakemake.output[0], rows)
    log.info("%d new rows to predict for %s", len(rows), spec["dataset"])
