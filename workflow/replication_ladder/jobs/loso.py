"""The `loso` rule's job: what it reads from Snakemake, handed to
replication_ladder.scoring.loso."""

import json
from pathlib import Path

import pandas as pd

from replication_ladder.base.atomic import write_parquet
from replication_ladder.scoring.loso import leave_sites_out


def loso(snakemake) -> None:
    record = json.loads(Path(snakemake.input.record).read_text())
    result = leave_sites_out(
        snakemake.params.spec,
        pd.read_parquet(snakemake.input.data),
        snakemake.params.site,
        record["site_levels"],
        snakemake.threads,
    )
    write_parquet(snakemake.output[0], result)
