"""The `replication` rule's job: what it reads from Snakemake, handed to
replication_ladder.verdict.replication."""

import json
import logging
from pathlib import Path

import pandas as pd

from replication_ladder.base.atomic import write_json
from replication_ladder.verdict.random_effects import random_effects
from replication_ladder.verdict.replication import replication_report, verdict_spec

log = logging.getLogger(__name__)


def replication(snakemake) -> None:
    sites = pd.read_parquet(snakemake.input.sites[0]) if snakemake.input.sites else None
    spec = verdict_spec(snakemake.params.spec, sites)
    models = spec["models"]
    loo = pd.read_parquet(snakemake.input.loo)
    compared = loo[loo["comparable"]].sort_values("rank")
    report = replication_report(
        dict(zip(models, snakemake.input.posteriors, strict=True)),
        {
            m: json.loads(Path(p).read_text())
            for m, p in zip(models, snakemake.input.priors, strict=True)
        },
        ranking=list(compared.index),
        spec=spec,
    )
    report["original_conversion"] = spec.get("original_conversion")
    if sites is not None:
        report["random_effects"] = random_effects(sites["effect"], sites["se"], spec["ci_prob"])
    write_json(snakemake.output[0], report)
    log.info("%s", report["verdict"])
