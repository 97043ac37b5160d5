"""The `validate_data` rule's job: what it reads from Snakemake, handed to
replication_ladder.data.validation."""

import logging

from replication_ladder.data.processing import write_processed

log = logging.getLogger(__name__)


def validate_data(snakemake) -> None:
    record = write_processed(
        snakemake.input.raw, snakemake.params.spec, snakemake.output.table, snakemake.output.record
    )
    log.info(
        "%s: kept %d of %d rows (removed %d: %s)",
        record["dataset"],
        record["rows_kept"],
        record["rows_raw"],
        record["rows_removed"],
        record.get("removed_by_column") or record.get("left_out"),
    )
