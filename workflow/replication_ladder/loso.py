"""Leave-one-site-out cross-validation: does the model predict a new lab?

Each model is refitted once per site without that site's rows (one Snakemake job per
refit, so they run in parallel and on a cluster) and scored on the held-out rows, with
new site effects drawn for the unseen site. A site's score is the log predictive density
of all its rows together,
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

from replication_ladder.atomic import write_json, write_parquet

log = logging.getLogger(__name__)


def site_score(log_lik: np.ndarray) -> dict:
    """Scores of one held-out site from its (draws x rows) log-likelihood."""
    n_draws = log_lik.shape[0]
    return {
        "elpd_site": float(logsumexp(log_lik.sum(axis=1)) - math.log(n_draws)),
        "elpd_rows": float((logsumexp(log_lik, axis=0) - math.log(n_draws)).sum()),
        "rows": int(log_lik.shape[1]),
    }


def refit_without_site(spec: dict, data: pd.DataFrame, site: str, level: str, cores: int) -> dict:
    import arviz as az

    from replication_ladder.refit import fit_without
    from replication_ladder.seeds import derive_seed

    held_out = (data[site].astype(str) == level).to_numpy()
    # The held-out level leaves the training categories, so the fit knows nothing of it
    # and scoring draws a new site effect for it.
    train = data[~held_out].reset_index(drop=True)
    train[site] = train[site].cat.remove_unused_categories()
    test = data[held_out].reset_index(drop=True)
    test[site] = pd.Categorical(test[site].astype(str))
    built, idata = fit_without(spec, train, cores, "loso", level)
    seed = derive_seed(spec["seed"], "loso-score", level)
    log_lik = built.log_likelihood_on(idata, test, seed)
    draws = log_lik.stack(sample=("chain", "draw")).transpose("sample", "__obs__").values
    summary = az.summary(idata, kind="diagnostics", round_to="none")
    return {
        "dataset": spec["dataset"],
        "model": spec["model"],
        "site": level,
        **site_score(draws),
        "divergences": int(idata["sample_stats"]["diverging"].sum()),
        "max_r_hat": float(summary["r_hat"].max()),
    }


def loso_table(parts: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ladder compared on held-out sites, and the per-site scores."""
    sites = pd.DataFrame(parts)
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


def refit_main(snakemake) -> None:
    record = json.loads(Path(snakemake.input.record).read_text())
    level = record["site_levels"][int(snakemake.wildcards.index)]
    result = refit_without_site(
        snakemake.params.spec,
        pd.read_parquet(snakemake.input.data),
        snakemake.params.site,
        level,
        snakemake.threads,
    )
    write_json(snakemake.output[0], result)
    log.info(
        "%s without site %s: elpd_site %.2f over %d rows",
        result["model"],
        level,
        result["elpd_site"],
        result["rows"],
    )


def table_main(snakemake) -> None:
    parts = [json.loads(Path(path).read_text()) for path in snakemake.input.parts]
    table, sites = loso_table(parts)
    write_parquet(snakemake.output.table, table)
    write_parquet(snakemake.output.sites, sites)
    log.info("leave-one-site-out comparison:\n%s", table)
