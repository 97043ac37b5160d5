"""The `model_averaging` rule's job: what it reads from Snakemake, handed to
replication_ladder.verdict.model_averaging."""

import json
import logging
from pathlib import Path

from replication_ladder.base.atomic import write_json
from replication_ladder.verdict.model_averaging import averaged_meta_analysis, meta_priors
from replication_ladder.verdict.small_studies import egger_test

log = logging.getLogger(__name__)


def model_averaging(snakemake) -> None:
    import pandas as pd

    spec = snakemake.params.spec
    sites = pd.read_parquet(snakemake.input.sites)
    rung = spec["rung"]
    where = f"datasets.{rung['dataset']}.models.{rung['model']}.priors"
    result = averaged_meta_analysis(
        sites["effect"],
        sites["se"],
        meta_priors(json.loads(Path(snakemake.input.priors).read_text()), rung),
        {**spec, "where": where},
    )
    if len(sites) >= 3:
        result["small_studies"] = egger_test(sites["effect"], sites["se"])
    result["prior_source"] = rung["model"]
    result["effect_size"] = rung["effect_size"]
    write_json(snakemake.output[0], result)
    inclusion = result["inclusion"]
    log.info(
        "%s: inclusion BF10 of the effect %.3g, of heterogeneity %.3g; P(model | data): %s",
        spec["dataset"],
        inclusion["effect_bf10"],
        inclusion["heterogeneity_bf"],
        ", ".join(f"{m} {v['posterior_probability']:.3f}" for m, v in result["models"].items()),
    )
