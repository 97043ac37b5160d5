"""A rung's SBC ranks gathered from its batches and tested for uniformity.

Kept apart from the fitting (replication_ladder.sbc): editing how the ranks are tested
reruns this job only, not every batch of replicates. The test is read together with the
replicates' convergence: ranks from chains that did not mix (R-hat above the config's
`convergence.max_r_hat`, the line every fit is judged by) test the sampler settings as
much as the model, and the summary counts them.
"""

import logging

import numpy as np
import pandas as pd

from replication_ladder.atomic import write_json, write_parquet
from replication_ladder.sbc import META
from replication_ladder.seeds import derive_seed

log = logging.getLogger(__name__)

UNIFORMITY_ALPHA = 0.01


def pit_values(ranks: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Randomised PIT values (rank + u) / (draws + 1), uniform when calibrated."""
    rng = np.random.default_rng(seed)
    parameters = [c for c in ranks.columns if c not in META]
    u = rng.uniform(size=(len(ranks), len(parameters)))
    scale = ranks["draws_ranked"].to_numpy(float)[:, None] + 1
    return pd.DataFrame((ranks[parameters].to_numpy(float) + u) / scale, columns=parameters)


def convergence(ranks: pd.DataFrame, max_r_hat: float) -> dict:
    """How many replicates' chains did not mix, by the same R-hat line as every fit."""
    r_hat = ranks["max_r_hat"]
    return {
        "max_r_hat_threshold": max_r_hat,
        "unconverged_replicates": int((r_hat > max_r_hat).sum()),
        "median_max_r_hat": float(r_hat.median()) if len(r_hat) else None,
        "divergent_replicates": int((ranks["divergences"] > 0).sum()),
    }


def uniformity(ranks: pd.DataFrame, seed: int, max_r_hat: float) -> dict:
    """ArviZ's uniformity test (pot_c) per parameter, Bonferroni over the parameters,
    with the replicates' convergence beside it."""
    import arviz_stats  # noqa: F401  (registers the .azstats accessor used below)
    import xarray as xr

    pit = pit_values(ranks, seed)
    mixing = convergence(ranks, max_r_hat)
    if len(pit) < 2:
        return {"replicates": len(pit), "parameters": {}, "miscalibrated": [], **mixing}
    dataset = xr.Dataset(
        {name: (("draw",), pit[name].to_numpy()) for name in pit.columns}
    ).expand_dims(chain=[0])
    p_values = {}
    for name in pit.columns:
        p_value = dataset[name].azstats.uniformity_test(dim=["chain", "draw"])
        p_values[name] = float(np.asarray(p_value[0] if isinstance(p_value, tuple) else p_value))
    bound = UNIFORMITY_ALPHA / max(1, len(p_values))
    return {
        "replicates": len(pit),
        "alpha": UNIFORMITY_ALPHA,
        "bonferroni_bound": bound,
        "parameters": p_values,
        "miscalibrated": sorted(name for name, p in p_values.items() if p < bound),
        **mixing,
    }


def sbc_ranks(snakemake) -> None:
    spec = snakemake.params.spec
    ranks = pd.concat([pd.read_parquet(p) for p in snakemake.input.batches], ignore_index=True)
    ranks = ranks.sort_values("replicate").reset_index(drop=True)
    write_parquet(snakemake.output.ranks, ranks)
    threshold = snakemake.params.convergence["max_r_hat"]
    result = uniformity(ranks, derive_seed(spec["sbc"]["seed"], "pit"), threshold)
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
