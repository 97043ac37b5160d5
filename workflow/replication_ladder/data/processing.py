"""A raw file processed into the table the models read and its record: a trial-level file
by data.validation, a summary-level one (a row per site) by data.summary_files; nothing
written on error."""

from replication_ladder.base.atomic import write_json, write_parquet
from replication_ladder.base.hashing import sha256_file
from replication_ladder.data import summary_files as summary
from replication_ladder.data.validation import process


def write_processed(raw_path, spec: dict, table_path, record_path) -> dict:
    """Validate `raw_path` (trial-level, or summary-level when spec names its `summary`
    columns) and write the table and its record; nothing on error."""
    if spec.get("summary"):
        table, record = summary.process(raw_path, spec)
    else:
        table, record = process(raw_path, spec)
    write_parquet(table_path, table)
    record["processed_sha256"] = sha256_file(table_path)
    write_json(record_path, record)
    return record
