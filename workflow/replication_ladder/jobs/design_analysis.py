"""The `design_analysis` rule's job: what it reads from Snakemake, handed to
replication_ladder.verdict.design_analysis."""

import logging

import pandas as pd

from replication_ladder.base.atomic import write_json
from replication_ladder.verdict.design_analysis import operating_characteristics
from replication_ladder.verdict.model_averaging import rung_priors
from replication_ladder.verdict.replication import verdict_spec

log = logging.getLogger(__name__)


def design_analysis(snakemake) -> None:
    spec = snakemake.params.spec
    sites = pd.read_parquet(snakemake.input.sites)
    spec = verdict_spec(spec, sites)
    result = operating_characteristics(sites, rung_priors(sites, spec["rung"]), spec)
    write_json(snakemake.output[0], result)
    for name, scenario in result["scenarios"].items():
        log.info("%s: true effect %.3g: %s", name, scenario["true_effect"], scenario["grouped"])
