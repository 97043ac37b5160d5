"""Leave-one-site-out scores: a held-out site's new participants are integrated out, not
drawn once per posterior draw. Checked against the closed form of a Gaussian rung: a
participant's ratings, given everything but their intercept, are multivariate normal
with covariance sigma^2 I + tau^2 11'."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp
from test_rungs import small_multisite, spec_of

from replication_ladder.models.kinds import build_rung
from replication_ladder.models.refit import Refitter, rows_of
from replication_ladder.scoring import loso


@pytest.fixture(scope="module")
def held_out_site():
    data = small_multisite(sites=4, participants=40)
    spec = spec_of("multisite", "participant")
    # PyMC's NUTS: its compiled code comes from the compile cache, which workers share
    # safely (nutpie's Numba cache raced with another worker's compile in CI).
    spec["sampling"] = {**spec["sampling"], "sampler": "pymc"}
    rung = build_rung(spec, data)
    refitter = Refitter(rung, 1)
    held_out = rows_of(rung.data, "study", "0")
    draws = refitter.fit_without(held_out, "loso", "0")
    return refitter, draws, held_out


def closed_form(refitter, draws, held_out, n_draws: int) -> np.ndarray:
    """Per draw, the site's log density with each participant's intercept integrated
    exactly. Each row's residual r = y - mu (mu: all but the participant's intercept)
    is read off the conditional density at offsets 0 and 1:
    ll(0) - ll(1) = (tau^2 - 2 r tau) / (2 sigma^2)."""
    posterior = draws["posterior"].to_dataset().isel(chain=[0], draw=slice(0, n_draws))
    name = "1|uid_offset"
    rows = refitter.rung.rows(held_out)
    at = {}
    for value in (0.0, 1.0):
        offsets = np.full(posterior[name].shape, value)
        moved = posterior.assign({name: (posterior[name].dims, offsets)})
        at[value] = refitter.densities.log_likelihood(moved, rows=rows)[0]
    sigma = posterior["sigma"].values[0]
    tau = posterior["1|uid_sigma"].values[0]
    residual = (tau[:, None] ** 2 - 2 * sigma[:, None] ** 2 * (at[0.0] - at[1.0])) / (
        2 * tau[:, None]
    )
    who = refitter.rung.data["uid"].astype(str).to_numpy()[held_out]
    totals = np.zeros(n_draws)
    for draw in range(n_draws):
        for member in np.unique(who):
            r = residual[draw, who == member]
            cov = sigma[draw] ** 2 * np.eye(r.size) + tau[draw] ** 2
            totals[draw] += stats.multivariate_normal(np.zeros(r.size), cov).logpdf(r)
    return totals


def test_new_participants_are_integrated_exactly(held_out_site):
    refitter, draws, held_out = held_out_site
    ours = loso.participants_integrated(refitter, draws, held_out, "uid")
    exact = closed_form(refitter, draws, held_out, n_draws=5)
    np.testing.assert_allclose(ours[:5], exact, rtol=0, atol=1e-6)


def test_plain_monte_carlo_over_participants_is_biased_low(held_out_site):
    """Drawing each new participant's intercept once per posterior draw (plain Monte
    Carlo) falls, by Jensen's inequality, below the integrated estimate: in expectation,
    so the held-out site has 10 participants (a bias of several nats), not 3 (at 3, the
    Monte Carlo noise put the plain estimate 0.4 nats above under one prior)."""
    refitter, draws, held_out = held_out_site
    plain = refitter.score(draws, held_out)
    plain = plain.reshape(-1, plain.shape[-1])
    integrated = loso.participants_integrated(refitter, draws, held_out, "uid")
    old = loso.site_score(plain)["elpd_site"]
    new = loso.site_score(plain, integrated)["elpd_site"]
    print(f"margin: integrated elpd_site {new:.1f}, plain Monte Carlo {old:.1f}")
    assert new > old
    assert new == pytest.approx(logsumexp(integrated) - np.log(integrated.size))


def test_a_rung_without_participant_intercepts_scores_as_before(held_out_site):
    refitter, draws, held_out = held_out_site
    assert loso.participants_integrated(refitter, draws, held_out, "nobody") is None
