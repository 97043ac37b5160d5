"""The verdict's figures against closed forms.

A normal likelihood for the effect (the conjugate case): with y_i ~ N(theta, 1), theta's
information is the mean ybar with standard error 1/sqrt(n), and every Bayes factor for
theta = 0 against a normal prior (truncated or not) is a ratio of normal densities of
ybar (`normal_marginal_log_bf01`, written out again in the tests). Here theta is the
model's only parameter, so each draw's conditional density at zero is the posterior's
own (the terms effect_density writes are all equal); tests/test_effect_density.py checks
those terms from real fits. The reweighting under test only sees posterior draws under
one prior and must give every other prior's figure: the robustness curve, the
replication Bayes factor, the one-sided tests. d33 is checked against the power of the
two-sample t-test at d33 and the normal approximation.
"""

import math

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from replication_ladder.models.prior_spec import Prior
from replication_ladder.verdict import bayes_factors as bf
from replication_ladder.verdict import equivalence

N, YBAR, TAU0 = 100, 0.05, 12.0  # data like a null replication; a wide fitted prior
SE = 1 / math.sqrt(N)
FITTED = {"dist": "Normal", "mu": 0.0, "sigma": TAU0}


def posterior_moments(fitted_sd: float = TAU0, ybar: float = YBAR) -> tuple[float, float]:
    var = 1 / (1 / SE**2 + 1 / fitted_sd**2)
    return var * ybar / SE**2, math.sqrt(var)


def exact_draws(size: int = 100_000, seed: int = 3, fitted_sd: float = TAU0) -> np.ndarray:
    """The exact posterior under the fitted prior (conjugate): no sampler error."""
    return np.random.default_rng(seed).normal(*posterior_moments(fitted_sd), size)


def terms(size: int, fitted_sd: float = TAU0) -> xr.DataArray:
    """The conditional densities at zero of a one-parameter model: the posterior's."""
    log_density = stats.norm.logpdf(0.0, *posterior_moments(fitted_sd))
    return xr.DataArray(np.full((4, size // 4), log_density), dims=("chain", "draw"))


def closed_form(prior: dict) -> float:
    """log BF01 written out: N(ybar; 0, se) over the marginal of ybar under the prior."""
    mu, tau = prior["mu"], prior["sigma"]
    null = stats.norm.logpdf(YBAR, 0, SE)
    if "truncate" not in prior:
        return null - stats.norm.logpdf(YBAR, mu, math.hypot(SE, tau))
    # Truncated to theta > 0 (or < 0): integrate N(ybar; theta, se) pi(theta) by quadrature.
    from scipy import integrate

    lower = prior["truncate"].get("lower", -np.inf)
    upper = prior["truncate"].get("upper", np.inf)
    mass = stats.norm.cdf(upper, mu, tau) - stats.norm.cdf(lower, mu, tau)
    marginal, _ = integrate.quad(
        lambda t: stats.norm.pdf(YBAR, t, SE) * stats.norm.pdf(t, mu, tau) / mass,
        lower,
        upper,
        limit=200,
    )
    return null - math.log(marginal)


@pytest.fixture(scope="module")
def fitted():
    draws = exact_draws()
    return draws, bf.savage_dickey(terms(draws.size), FITTED)


def test_savage_dickey_matches_the_closed_form(fitted):
    """Equal terms: the density at zero is theirs, exact, with no Monte Carlo error."""
    _, result = fitted
    assert result["log_bf01"] == pytest.approx(closed_form(FITTED), abs=1e-9)
    assert result["reliable"] and result["density"]["log_density_mcse"] == 0.0


@pytest.mark.parametrize("scale", [0.05, 0.1, 0.5, 1, 2, 10])
def test_the_robustness_curve_matches_the_closed_form(fitted, scale):
    """Each prior's BF01 by reweighting the fitted draws: within 3% of the exact value
    (the Savage-Dickey density's error; the weights pi1/pi0 are bounded here, so their
    average's Monte Carlo error over 1e5 draws is under 0.5%)."""
    draws, result = fitted
    (point,) = bf.sensitivity_curve(draws, result, [scale], unit=0.4)
    assert abs(point["log_bf01"] - closed_form(point["prior"])) < 0.03
    assert point["reliable"]


@pytest.mark.parametrize("direction", ["positive", "negative"])
def test_one_sided_tests_match_the_closed_form(fitted, direction):
    draws, result = fitted
    prior = bf.normal_prior(0.0, 0.3, direction)
    estimate = bf.reweighted_log_bf01(draws, result, prior)
    assert abs(estimate["log_bf01"] - closed_form(prior)) < 0.03
    assert abs(bf.normal_marginal_log_bf01(YBAR, SE, prior) - closed_form(prior)) < 1e-6


def test_a_uniform_prior_keeps_its_own_support(fitted):
    """Uniform(-2, 2) is a distribution whose lower and upper are its support, not a
    truncation: BF01 = N(ybar; 0, se) / (1/4) int_-2^2 N(ybar; t, se) dt, by quadrature."""
    from scipy import integrate

    draws, result = fitted
    prior = {"dist": "Uniform", "lower": -2.0, "upper": 2.0}
    estimate = bf.reweighted_log_bf01(draws, result, prior)
    marginal, _ = integrate.quad(lambda t: stats.norm.pdf(YBAR, t, SE) / 4, -2, 2)
    exact = stats.norm.logpdf(YBAR, 0, SE) - math.log(marginal)
    assert abs(estimate["log_bf01"] - exact) < 0.03
    assert Prior(prior).text() == "Uniform(lower=-2, upper=2)"


def test_a_one_sided_test_of_the_fitted_prior_is_its_half():
    """The fitted prior truncated to its positive side: weights 2 on the positive draws
    and 0 on the others (constant where they are not zero, so no Pareto tail to fit);
    BF01 is the closed form of the half-normal alternative."""
    fitted_prior = {"dist": "Normal", "mu": 0.0, "sigma": 1.0}
    draws = exact_draws(seed=5, fitted_sd=1.0)
    result = bf.savage_dickey(terms(draws.size, fitted_sd=1.0), fitted_prior)
    one_sided = bf.normal_prior(0.0, 1.0, "positive")
    estimate = bf.reweighted_log_bf01(draws, result, one_sided)
    assert estimate["pareto_k"] == 0.0 and estimate["reliable"]
    exact = bf.normal_marginal_log_bf01(YBAR, SE, one_sided)
    assert abs(estimate["log_bf01"] - exact) < 0.03
    assert Prior(one_sided).text() == "Normal(mu=0, sigma=1) truncated to ≥ 0"


@pytest.mark.parametrize("original", [(0.82, 0.44), (0.3, 0.1), (-0.5, 0.2)])
def test_the_replication_bayes_factor_matches_the_closed_form(fitted, original):
    """The original study's posterior N(effect, se) as the alternative: BF0r exact for a
    normal likelihood is N(ybar; 0, se) / N(ybar; effect, sqrt(se^2 + se_orig^2))."""
    draws, result = fitted
    prior = bf.normal_prior(*original)
    estimate = bf.reweighted_log_bf01(draws, result, prior)
    assert abs(estimate["log_bf01"] - closed_form(prior)) < 0.03
    assert estimate["bf01"] == pytest.approx(math.exp(estimate["log_bf01"]))


def test_reweighting_to_the_fitted_prior_changes_nothing():
    """A test prior equal to the fitted one (a config may say so) gives equal weights:
    the fitted BF01 exactly, every draw effective, no tail to fit a Pareto k to."""
    draws = exact_draws(5000)
    result = bf.savage_dickey(terms(5000), FITTED)
    same = bf.reweighted_log_bf01(draws, result, FITTED)
    assert same["log_bf01"] == pytest.approx(result["log_bf01"], abs=1e-12)
    assert same["pareto_k"] == 0.0 and same["weights_ess"] == pytest.approx(5000)
    assert same["reliable"]


def test_a_prior_far_from_the_draws_is_flagged_unreliable():
    """A prior much narrower than the posterior rests on the few draws near its centre:
    the weights' effective number of draws says so (their Pareto k cannot: the weights are
    bounded), and a prior centred where the posterior has no draws has a heavy tail."""
    draws = exact_draws(5000)
    result = bf.savage_dickey(terms(5000), FITTED)
    narrow = bf.reweighted_log_bf01(draws, result, bf.normal_prior(0.0, 0.002))
    assert not narrow["reliable"] and narrow["weights_ess"] < bf.RELIABLE_ESS
    wide = bf.reweighted_log_bf01(draws, result, bf.normal_prior(0.0, 1.0))
    assert wide["reliable"] and wide["weights_ess"] > 4000


@pytest.mark.parametrize("n", [5, 20, 31, 100, 2000])
def test_d33_gives_the_original_one_third_power(n):
    """At d33 the two-sample t-test has power 1/3 (noncentral t, computed independently
    here); for large samples d33 approaches the normal approximation
    (z_.975 + z_{1/3}) / sqrt(n/2)."""
    d = equivalence.d33(n, n)
    df, ncp = 2 * n - 2, d * math.sqrt(n / 2)
    critical = stats.t.ppf(0.975, df)
    power = stats.nct.sf(critical, df, ncp) + stats.nct.cdf(-critical, df, ncp)
    assert power == pytest.approx(1 / 3, abs=1e-6)
    normal = (stats.norm.ppf(0.975) + stats.norm.ppf(1 / 3)) / math.sqrt(n / 2)
    assert d == pytest.approx(normal, rel=2.0 / n)


def test_small_telescopes_on_the_outcomes_scale():
    original = {"effect": 0.82, "t": 1.85, "n1": 31, "n2": 31}
    draws = np.random.default_rng(2).normal(0.0, 0.07, 20_000)
    result = equivalence.small_telescopes(original, draws)
    sd = (0.82 / 1.85) / math.sqrt(2 / 31)
    assert result["original_sd"] == pytest.approx(sd)
    assert result["effect_d33"] == pytest.approx(equivalence.d33(31, 31) * sd)
    assert result["ruled_out"] and result["upper_bound_95"] == pytest.approx(0.07 * 1.645, rel=0.05)
    near = equivalence.small_telescopes(original, draws + result["effect_d33"])
    assert not near["ruled_out"]


def test_equivalence_probability():
    draws = np.random.default_rng(3).normal(0.0, 0.1, 100_000)
    result = equivalence.equivalence(draws, 0.2)
    exact = stats.norm.cdf(2) - stats.norm.cdf(-2)
    assert result["p_inside"] == pytest.approx(exact, abs=0.005)  # 5 binomial SEs
    assert result["equivalent"]
    assert equivalence.equivalence(draws, None) is None


@pytest.mark.parametrize(
    ("spec", "reference"),
    [
        ({"dist": "Normal", "mu": 0.0, "sigma": 0.82}, stats.norm(0, 0.82)),
        ({"dist": "Normal", "mu": 0.0, "sigma": 2.5}, stats.norm(0, 2.5)),
        (
            {"dist": "Normal", "mu": 0, "sigma": 0.82, "truncate": {"lower": 0}},
            stats.halfnorm(0, 0.82),
        ),
        (
            {"dist": "Normal", "mu": 0.3, "sigma": 2, "truncate": {"upper": 0.0}},
            stats.truncnorm(-np.inf, -0.15, loc=0.3, scale=2),
        ),
        (
            {"dist": "Normal", "mu": 0, "sigma": 1, "truncate": {"lower": -1, "upper": 2}},
            stats.truncnorm(-1, 2),
        ),
        ({"dist": "HalfNormal", "sigma": 0.5}, stats.halfnorm(0, 0.5)),
        ({"dist": "StudentT", "nu": 3, "mu": 0.1, "sigma": 1.5}, stats.t(3, 0.1, 1.5)),
        ({"dist": "Gamma", "alpha": 4, "beta": 2}, stats.gamma(4, scale=0.5)),
    ],
)
def test_a_priors_density_is_scipys(spec, reference):
    """Reference: SciPy's densities. Each family's density is compiled once with its
    parameters as inputs: the cases share the Normal's function, so each must still get
    its own scale and truncation."""
    x = np.array([-2.5, -0.4, 0.0, 0.05, 0.7, 1.9, 6.0])
    with np.errstate(divide="ignore"):
        expected = reference.logpdf(x)
    ours = Prior(spec).log_density(x)
    np.testing.assert_allclose(ours, expected, rtol=1e-7, atol=1e-12)
    assert Prior(spec).log_density(0.7) == pytest.approx(reference.logpdf(0.7), rel=1e-7)
