"""Power-scaling sensitivity: the fit's table is ArviZ's `psense_summary` of the whole fit
(the reference), computed from the log-likelihood summed per draw."""

import numpy as np
import xarray as xr

from replication_ladder.scoring.sensitivity import THRESHOLD, power_scaling


def _conflicting_fit(draws: int = 4000):
    """Exact posterior draws of mu in y ~ Normal(mu, 1), mu ~ Normal(0, 0.2), with rows
    centred at 1 (a prior-data conflict), as two observed variables of 60 and 40 rows,
    and a second parameter the data do not inform."""
    rng = np.random.default_rng(8)
    y = rng.normal(1.0, 1.0, 100)
    precision = 1 / 0.2**2 + y.size
    mu = rng.normal(y.sum() / precision, precision**-0.5, (2, draws // 2))
    free = rng.normal(0, 1, (2, draws // 2))
    sample = ("chain", "draw")
    log_lik = -0.5 * (y - mu[..., None]) ** 2
    return xr.DataTree.from_dict(
        {
            "/posterior": xr.Dataset({"mu": (sample, mu), "free": (sample, free)}),
            "/log_prior": xr.Dataset(
                {"mu": (sample, -0.5 * (mu / 0.2) ** 2), "free": (sample, -0.5 * free**2)}
            ),
            "/log_likelihood": xr.Dataset(
                {
                    "first": (("chain", "draw", "row"), log_lik[..., :60]),
                    "second": (("chain", "draw", "site"), log_lik[..., 60:]),
                }
            ),
        }
    )


def test_the_table_is_arvizs_psense_summary_of_the_whole_fit():
    """Summing each draw's log-likelihood first (as psense does inside) gives ArviZ's
    figures to the last digit kept, and its diagnoses (a conflict for mu)."""
    from arviz_stats import psense_summary

    fit = _conflicting_fit()
    table = power_scaling(fit, ["mu", "free"]).table
    reference = psense_summary(fit, var_names=["mu", "free"], threshold=THRESHOLD, round_to=6)
    assert table.loc["mu", "diagnosis"] == "potential prior-data conflict"
    for column in ("prior", "likelihood"):
        np.testing.assert_array_equal(
            table[column].to_numpy(), reference.loc[table.index, column].astype(float).to_numpy()
        )
    assert list(table["diagnosis"]) == list(reference.loc[table.index, "diagnosis"])
