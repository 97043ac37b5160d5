"""Leave-one-site-out cross-validation: does the model predict a new lab?

Each rung is refitted once per site without that site's rows (one job per rung: the
model is compiled once and its rows swapped for each refit) and scored on the held-out
rows, with the held-out site's effect drawn from the population. A site's score is the
log predictive density of all its rows together,
    elpd_site = log( 1/S sum_s prod_i p(y_i | theta_s) ),
and the ladder is compared on the sum over sites, with standard errors from the spread
across sites (as for PSIS-LOO across observations).
"""

import json
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from replication_ladder.atomic import write_parquet

log = logging.getLogger(__name__)


def site_score(log_lik: np.ndarray) -> dict:
    """Scores of one held-out site from its (draws x rows) log-likelihood."""
    n_draws = log_lik.shape[0]
    return {
        "elpd_site": float(logsumexp(log_lik.sum(axis=1)) - math.log(n_draws)),
        "elpd_rows": float((logsumexp(log_lik, axis=0) - math.log(n_draws)).sum()),
        "rows": int(log_lik.shape[1]),
    }


def leave_sites_out(spec: dict, data: pd.DataFrame, site: str, levels: list[str], cores: int):
    """One refit per site of one rung, compiled once: a row per held-out site."""
    import arviz as az

    from replication_ladder.refit import Refitter, rows_of
    from replication_ladder.rungs import build_rung

    refitter = Refitter(build_rung(spec, data), cores)
    rows = []
    for position, level in enumerate(levels):
        held_out = rows_of(refitter.rung.data, site, level)
        draws = refitter.fit_without(held_out, "loso", level)
        log_lik = refitter.score(draws, held_out)
        summary = az.summary(draws, kind="diagnostics", round_to="none")
        rows.append(
            {
                "dataset": spec["dataset"],
                "model": spec["model"],
                "site": level,
                "position": position,
                **site_score(log_lik.reshape(-1, log_lik.shape[-1])),
                "divergences": int(draws["sample_stats"]["diverging"].sum()),
                "max_r_hat": float(summary["r_hat"].max()),
            }
        )
        log.info(
            "%s without site %s: elpd_site %.2f over %d rows",
            spec["model"],
            level,
            rows[-1]["elpd_site"],
            rows[-1]["rows"],
        )
    return pd.DataFrame(rows)


def loso_comparison(parts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ladder compared on held-out sites, and the per-site scores."""
    sites = parts.reset_index(drop=True)
    by_site = sites.pivot(index="site", columns="model", values="elpd_site")
    n_sites = len(by_site)
    table = pd.DataFrame(
        {
            "elpd_loso": by_site.sum(),
            "se": np.sqrt(n_sites) * by_site.std(ddof=1),
            "elpd_loso_rows": sites.groupby("model")["elpd_rows"].sum(),
            "sites": n_sites,
            "divergences": sites.groupby("model")["divergences"].sum(),
            "max_r_hat": sites.groupby("model")["max_r_hat"].max(),
        }
    )
    best = table["elpd_loso"].idxmax()
    table["elpd_diff"] = table["elpd_loso"] - table.loc[best, "elpd_loso"]
    table["dse"] = [
        np.sqrt(n_sites) * (by_site[model] - by_site[best]).std(ddof=1) if model != best else 0.0
        for model in table.index
    ]
    table = table.sort_values("elpd_loso", ascending=False)
    table.insert(0, "rank", np.arange(len(table)))
    table.index.name = "model"
    return table, sites


def loso(snakemake) -> None:
    record = json.loads(Path(snakemake.input.record).read_text())
    result = leave_sites_out(
        snakemake.params.spec,
        pd.read_parquet(snakemake.input.data),
        snakemake.params.site,
        record["site_levels"],
        snakemake.threads,
    )
    write_parquet(snakemake.output[0], result)


def loso_table(snakemake) -> None:
    parts = pd.concat([pd.read_parquet(path) for path in snakemake.input.parts], ignore_index=True)
    table, sites = loso_comparison(parts)
    write_parquet(snakemake.output.table, table)
    write_parquet(snakemake.output.sites, sites)
    log.info("leave-one-site-out comparison:\n%s", table)
