"""The `report_index` rule's job: what it reads from Snakemake, handed to
replication_ladder.report.index."""

from pathlib import Path

from replication_ladder.base import paths
from replication_ladder.base.atomic import write_text
from replication_ladder.report.index import index_rows


def report_index(snakemake) -> None:
    from replication_ladder.report.html import index_page

    rows = index_rows(
        paths.relocated(snakemake.params.datasets, snakemake.input.verdicts),
        Path(snakemake.input.diagnostics),
        snakemake.params.ci_prob,
    )
    write_text(snakemake.output[0], index_page(rows))
