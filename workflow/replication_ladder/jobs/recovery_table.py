"""The `recovery_table` rule's job: what it reads from Snakemake, handed to
replication_ladder.calibration.recovery."""

import pandas as pd

from replication_ladder.base.atomic import write_parquet
from replication_ladder.calibration.recovery import COLUMNS


def recovery_table(snakemake) -> None:
    tables = [
        pd.read_parquet(path).assign(dataset=dataset)
        for dataset, path in zip(snakemake.params.datasets, snakemake.input.tables, strict=True)
    ]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=COLUMNS)
    write_parquet(snakemake.output[0], table[["dataset", *COLUMNS]])
