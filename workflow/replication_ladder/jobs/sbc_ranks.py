"""The `sbc_ranks` rule's job: what it reads from Snakemake, handed to
replication_ladder.calibration.sbc_ranks."""

import logging

import pandas as pd

from replication_ladder.base.atomic import write_json, write_parquet
from replication_ladder.base.seeds import derive_seed
from replication_ladder.calibration.sbc_ranks import bayes_factor_calibration, uniformity

log = logging.getLogger(__name__)


def sbc_ranks(snakemake) -> None:
    spec = snakemake.params.spec
    ranks = pd.concat([pd.read_parquet(p) for p in snakemake.input.batches], ignore_index=True)
    ranks = ranks.sort_values("replicate").reset_index(drop=True)
    write_parquet(snakemake.output.ranks, ranks)
    threshold = snakemake.params.convergence["max_r_hat"]
    seed = derive_seed(spec["sbc"]["seed"], "pit")
    result = uniformity(ranks, seed, threshold, spec.get("treatment"), spec.get("site"))
    result["bayes_factor"] = bayes_factor_calibration(ranks)
    write_json(snakemake.output.uniformity, result)
    log.info(
        "%s/%s: %d replicates (%d with R-hat above %s), miscalibrated: %s",
        spec["dataset"],
        spec["model"],
        result["replicates"],
        result["unconverged_replicates"],
        threshold,
        ", ".join(result["miscalibrated"]) or "none",
    )
