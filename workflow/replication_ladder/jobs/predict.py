"""The `predict` rule's job: what it reads from Snakemake, handed to
replication_ladder.models.predict."""

import logging

import pandas as pd

from replication_ladder.base.atomic import write_parquet
from replication_ladder.models.predict import prediction_table

log = logging.getLogger(__name__)


def predict(snakemake) -> None:
    import xarray as xr

    from replication_ladder.base.seeds import derive_seed
    from replication_ladder.models.kinds import build_rung

    spec = snakemake.params.spec
    built = build_rung(spec, pd.read_parquet(snakemake.input.data))
    rows = pd.read_parquet(snakemake.input.rows)
    with xr.open_datatree(snakemake.input.posterior, engine="h5netcdf") as tree:
        posterior = xr.DataTree.from_dict({"posterior": tree["posterior"].to_dataset().load()})
    expected, replicated = built.predict(posterior, rows, derive_seed(spec["seed"], "predict"))
    table = prediction_table(rows, expected, replicated, snakemake.params.response, spec["ci_prob"])
    write_parquet(snakemake.output[0], table)
    if "covered" in table:
        log.info(
            "%d of %d held-out values inside their %.0f%% prediction intervals",
            table["covered"].sum(),
            len(table),
            100 * spec["ci_prob"],
        )
