"""The `diagnostics_table` rule's job: what it reads from Snakemake, handed to
replication_ladder.scoring.diagnostics."""

from replication_ladder.base.atomic import write_parquet
from replication_ladder.scoring.diagnostics import gather_diagnostics


def diagnostics_table(snakemake) -> None:
    write_parquet(snakemake.output[0], gather_diagnostics(snakemake.input.diagnostics))
