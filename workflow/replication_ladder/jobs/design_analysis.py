"""The `design_analysis` rule's job: what it reads from Snakemake, handed to
replication_ladder.verdict.design_analysis."""

import json
import logging
from pathlib import Path

import pandas as pd

from replication_ladder.base.atomic import write_json
from replication_ladder.models.builders import meta_analysis
from replication_ladder.verdict.design_analysis import operating_characteristics
from replication_ladder.verdict.model_averaging import meta_priors
from replication_ladder.verdict.replication import verdict_spec

log = logging.getLogger(__name__)


def design_analysis(snakemake) -> None:
    spec = snakemake.params.spec
    sites = pd.read_parquet(snakemake.input.sites)
    spec = verdict_spec(spec, sites)
    # The meta-analysis rung's priors as its fit stated them, else the builder's defaults.
    if snakemake.input.get("priors"):
        stated = json.loads(Path(snakemake.input.priors).read_text())
    else:
        stated = meta_analysis.priors(sites, spec["rung"])
    result = operating_characteristics(sites, meta_priors(stated, spec["rung"]), spec)
    write_json(snakemake.output[0], result)
    for name, scenario in result["scenarios"].items():
        log.info("%s: true effect %.3g: %s", name, scenario["true_effect"], scenario["grouped"])
