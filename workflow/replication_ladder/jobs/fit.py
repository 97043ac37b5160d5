"""The `fit` rule's job: what it reads from Snakemake, handed to
replication_ladder.models.fit."""

import logging
from pathlib import Path

from replication_ladder.base import paths
from replication_ladder.base.hashing import analysis_sha256
from replication_ladder.models.fit import fit_rung

log = logging.getLogger(__name__)


def fit(snakemake) -> None:
    diagnostics = fit_rung(
        snakemake.params.spec,
        snakemake.input.data,
        {key: snakemake.output[key] for key in paths.FIT},
        cores=snakemake.threads,
        settings=snakemake.params.settings,
        workflow_root=Path(snakemake.scriptdir).resolve().parents[1],  # the Snakefile's checkout
        workflow_config_sha256=analysis_sha256(snakemake.config),
    )
    log.info(
        "%s/%s: %d divergences, max r_hat %s, min ESS bulk %s; sampling %.1f s",
        diagnostics["dataset"],
        diagnostics["model"],
        diagnostics["divergences"],
        diagnostics["max_r_hat"],
        diagnostics["min_ess_bulk"],
        diagnostics["sampling_seconds"],
    )
