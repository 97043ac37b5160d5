"""The `prior_predictive` rule's job: what it reads from Snakemake, handed to
replication_ladder.calibration.prior_predictive."""

import pandas as pd

from replication_ladder.base.atomic import write_json, write_parquet
from replication_ladder.calibration.prior_predictive import (
    outcome_bounds,
    prior_predictive_of_ladder,
)


def prior_predictive(snakemake) -> None:
    spec = snakemake.params.spec
    tables = {"rows": pd.read_parquet(snakemake.input.data)}
    if snakemake.input.sites:
        tables["sites"] = pd.read_parquet(snakemake.input.sites[0])
    # A summary-level dataset's rows are its site effects.
    effects = tables.get("sites", tables["rows"] if spec["summary"] else None)
    effect_sd = float(effects["outcome_sd"].iloc[0]) if effects is not None else None
    if effects is not None and spec["effect_size"] != "raw":
        effect_sd = 1.0
    settings = {
        **spec["settings"],
        "bounds": {
            "rows": outcome_bounds(spec["range"], spec["summary"], effect_sd),
            "sites": outcome_bounds(spec["range"], True, effect_sd),
        },
    }
    checks, samples = prior_predictive_of_ladder(spec["models"], tables, settings)
    write_parquet(snakemake.output.draws, samples)
    write_json(snakemake.output.check, {"dataset": spec["dataset"], "rungs": checks})
