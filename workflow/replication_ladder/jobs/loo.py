"""The `loo` rule's job: what it reads from Snakemake, handed to
replication_ladder.scoring.remedies."""

import logging

import pandas as pd

from replication_ladder.base.atomic import write_json, write_parquet
from replication_ladder.scoring.remedies import score_rung

log = logging.getLogger(__name__)


def loo(snakemake) -> None:
    scalars, pointwise = score_rung(
        snakemake.input.psis,
        snakemake.input.posterior,
        spec=snakemake.params.spec,
        data=pd.read_parquet(snakemake.input.data),
        settings=snakemake.params.settings,
        cores=snakemake.threads,
    )
    write_parquet(snakemake.output.pointwise, pointwise)
    write_json(snakemake.output.scores, scalars)
    if scalars["n_high_pareto_k"]:
        log.warning(
            "%d observations with Pareto k > %s (or none); remedy %s leaves %d",
            scalars["n_high_pareto_k"],
            scalars["pareto_k_threshold"],
            scalars["remedy"],
            scalars["n_high_pareto_k_after"],
        )
    log.info("elpd_loo %.1f (se %.1f), p_loo %.1f", scalars["elpd"], scalars["se"], scalars["p"])
