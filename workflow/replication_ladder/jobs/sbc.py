"""The `sbc` rule's job: what it reads from Snakemake, handed to
replication_ladder.calibration.sbc."""

import pandas as pd

from replication_ladder.base import paths
from replication_ladder.base.atomic import write_parquet
from replication_ladder.base.hashing import canonical_hash, sha256_file
from replication_ladder.calibration.sbc import run_batch


def sbc(snakemake) -> None:
    table = run_batch(
        snakemake.params.spec,
        pd.read_parquet(snakemake.input.data),
        int(snakemake.wildcards.batch),
        paths.sbc_progress(snakemake.output[0]),
        snakemake.threads,
        sources_sha256=canonical_hash([sha256_file(path) for path in snakemake.input]),
    )
    write_parquet(snakemake.output[0], table)
