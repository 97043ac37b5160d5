"""Leave-one-site-out cross-validation: does the model predict a new lab?

Each rung is refitted once per site without that site's rows (one job per rung: the
model is compiled once and its rows swapped for each refit) and scored on the held-out
rows, with the held-out site's effect drawn from the population. A site's score is the
log predictive density of all its rows together,
    elpd_site = log( 1/S sum_s prod_j int prod_(i in j) p(y_i | theta_s, u_j) N(u_j) du_j ),
each new participant j's intercept u_j integrated out by quadrature (the site's own
effects, two at most, by the draws),
and the ladder is compared on the sum over sites, with standard errors from the spread
across sites (as for PSIS-LOO across observations).
"""

import logging
import math

import numpy as np
import pandas as pd
from scipy.special import logsumexp

log = logging.getLogger(__name__)


def site_score(log_lik: np.ndarray, site_log_lik: np.ndarray | None = None) -> dict:
    """Scores of one held-out site from its (draws x rows) log-likelihood, and from the
    site's log-likelihood per draw with its participants' effects integrated out (when
    the rung has them)."""
    n_draws = log_lik.shape[0]
    per_draw = log_lik.sum(axis=1) if site_log_lik is None else site_log_lik
    return {
        "elpd_site": float(logsumexp(per_draw) - math.log(n_draws)),
        "elpd_rows": float((logsumexp(log_lik, axis=0) - math.log(n_draws)).sum()),
        "rows": int(log_lik.shape[1]),
    }


# Gauss-Hermite nodes for a participant's intercept: exact for a Gaussian rung to
# machine precision at this many (the integrand is a Gaussian in the offset).
QUADRATURE_NODES = 32


def participants_integrated(refitter, draws, held_out: np.ndarray, participant: str):
    """log p(held-out rows | theta_s) per draw, each new participant's intercept
    integrated out by Gauss-Hermite quadrature over its standard-normal offset (Bambi's
    non-centred `1|participant_offset`). Drawing one intercept per participant and draw
    and averaging the product over draws (plain Monte Carlo in as many dimensions as
    the site has participants) is biased low by tens of nats a site. None when the rung
    has no participant intercept."""
    name = f"1|{participant}_offset"
    posterior = draws["posterior"].to_dataset()
    if name not in posterior:
        return None
    offsets = posterior[name]
    level_dim = offsets.dims[-1]
    levels = [str(level) for level in offsets[level_dim].values]
    who = refitter.rung.data[participant].astype(str).to_numpy()[held_out]
    members, position = np.unique(who, return_inverse=True)
    columns = [levels.index(member) for member in members]
    nodes, weights = np.polynomial.hermite_e.hermegauss(QUADRATURE_NODES)
    log_weights = np.log(weights) - 0.5 * math.log(2 * math.pi)  # E over N(0, 1)
    rows = refitter.rung.rows(held_out)
    per_node = []
    for node in nodes:
        values = offsets.values.copy()
        values[..., columns] = node
        at_node = posterior.assign({name: (offsets.dims, values)})
        log_lik = refitter.densities.log_likelihood(at_node, rows=rows)
        flat = log_lik.reshape(-1, log_lik.shape[-1])
        summed = np.zeros((flat.shape[0], len(members)))
        np.add.at(summed.T, position, flat.T)  # each participant's rows together
        per_node.append(summed)
    integrated = logsumexp(np.stack(per_node) + log_weights[:, None, None], axis=0)
    return integrated.sum(axis=1)


def leave_sites_out(spec: dict, data: pd.DataFrame, site: str, levels: list[str], cores: int):
    """One refit per site of one rung, compiled once: a row per held-out site."""
    import arviz as az

    from replication_ladder.models.kinds import build_rung
    from replication_ladder.models.refit import Refitter, rows_of

    refitter = Refitter(build_rung(spec, data), cores, refits=len(levels))
    rows = []
    for position, level in enumerate(levels):
        held_out = rows_of(refitter.rung.data, site, level)
        draws = refitter.fit_without(held_out, "loso", level)
        log_lik = refitter.score(draws, held_out)
        integrated = (
            participants_integrated(refitter, draws, held_out, spec["participant"])
            if spec.get("participant")
            else None
        )
        summary = az.summary(draws, kind="diagnostics", round_to="none")
        rows.append(
            {
                "dataset": spec["dataset"],
                "model": spec["model"],
                "site": level,
                "position": position,
                **site_score(log_lik.reshape(-1, log_lik.shape[-1]), integrated),
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
