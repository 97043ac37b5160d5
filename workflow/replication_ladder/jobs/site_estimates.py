"""The `site_estimates` rule's job: what it reads from Snakemake, handed to
replication_ladder.data.sites."""

import logging

import pandas as pd

from replication_ladder.base.atomic import write_parquet
from replication_ladder.data.sites import (
    on_scale,
    participant_means,
    per_site_effects,
    treatment_design,
)

log = logging.getLogger(__name__)


def site_estimates(snakemake) -> None:
    spec = snakemake.params.spec
    data = on_scale(pd.read_parquet(snakemake.input.data), spec["outcome"], spec["scale"])
    design = spec["design"] or treatment_design(
        data, spec["participant"], spec["treatment"], spec["site"]
    )
    means = participant_means(
        data, spec["site"], spec["participant"], spec["treatment"], spec["outcome"], design
    )
    table = per_site_effects(means, spec["effect_size"], design)
    write_parquet(snakemake.output[0], table)
    log.info("%d sites; effects:\n%s", len(table), table[["site", "effect", "se"]])
