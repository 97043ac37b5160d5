"""The `loso_table` rule's job: what it reads from Snakemake, handed to
replication_ladder.scoring.loso."""

import logging

import pandas as pd

from replication_ladder.base.atomic import write_parquet
from replication_ladder.scoring.loso import loso_comparison

log = logging.getLogger(__name__)


def loso_table(snakemake) -> None:
    parts = pd.concat([pd.read_parquet(path) for path in snakemake.input.parts], ignore_index=True)
    table, sites = loso_comparison(parts)
    write_parquet(snakemake.output.table, table)
    write_parquet(snakemake.output.sites, sites)
    log.info("leave-one-site-out comparison:\n%s", table)
