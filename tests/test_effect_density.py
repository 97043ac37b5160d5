"""The Savage-Dickey Bayes factor from real fits, against exact ones, where the effect is
anything from none to overwhelming (z = 0 to 8).

References, each independent of the estimator (effect_density):
- a gaussian regression `y ~ x` (sigma unknown): given sigma, the two coefficients
  integrate out in closed form (the outcome is jointly normal), sigma by quadrature;
- a gaussian rung with site slopes `y ~ x + C(site) + (0 + x | site)`: the same, the
  slopes' SD and sigma by two-dimensional quadrature;
- a logistic regression: its two coefficients by two-dimensional quadrature;
- a logistic regression with a cluster intercept and the treatment between clusters: each
  cluster's intercept by Gauss-Hermite quadrature, then the intercept, effect and the
  clusters' SD on a grid;
- the meta-analysis rung: model_averaging's marginal likelihoods of the random-effects
  models with and without the effect (quadrature over tau), which tests hold to metaBMA's
  method (test_model_averaging).
The issue's line: log BF within 0.1 of the exact one wherever a figure is reported; a
figure past the draws' reach is a bound, and the exact one must lie beyond it.
"""

import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from scipy.special import expit, logsumexp

from replication_ladder.models.fit import with_densities
from replication_ladder.models.kinds import build_rung
from replication_ladder.models.samplers import compile_rung
from replication_ladder.verdict import bayes_factors as bf

from conftest import SEED

pytestmark = pytest.mark.sampling

Z_SCORES = (0, 2, 4, 6, 8)
TOLERANCE = 0.1  # on the log scale
EFFECT = {"dist": "Normal", "mu": 0.0, "sigma": 1.0}
INTERCEPT = {"dist": "Normal", "mu": 0.0, "sigma": 5.0}
SIGMA = {"dist": "HalfNormal", "sigma": 2.0}
SLOPES_SD = 0.5


def spec(formula: str, priors: dict, family: str = "gaussian", **sampling) -> dict:
    return {
        "dataset": "exact",
        "model": "rung",
        "kind": "bambi",
        "level": "rows",
        "formula": formula,
        "family": family,
        "builder": None,
        "priors": priors,
        "outcome_range": None,
        "sampling": {
            "sampler": "nutpie",
            "draws": 2000,
            "tune": 1000,
            "thin": 1,
            "chains": 4,
            "target_accept": 0.9,
            "mass_matrix": "diag",
            **sampling,
        },
        "seed": SEED,
        "ci_prob": 0.95,
        "treatment": "x",
        "site": None,
        "participant": None,
    }


def fitted_bf01(rung_spec: dict, data: pd.DataFrame) -> dict:
    """The fit's own route: sample, then the effect_density group, then the verdict's
    Savage-Dickey ratio against the prior the rung used."""
    rung = build_rung(rung_spec, data)
    raw = compile_rung(rung, rung_spec["sampling"]).sample(rung_spec["seed"], 2)
    with tempfile.TemporaryDirectory() as scratch:
        idata, _ = with_densities(rung, raw, Path(scratch) / "posterior.nc")
    terms = idata["effect_density"]["log_density_at_zero"]
    result = bf.savage_dickey(terms, rung.priors()["x"])
    result["draws"] = idata["posterior"]["x"].values.ravel()
    return result


def check(result: dict, exact_log_bf01: float, z: float) -> None:
    """Reliable and within the line where a figure is reported; beyond its bound where
    one is stated."""
    print(
        f"margin: z = {z}: log BF01 {result['log_bf01']:.4f} against exact {exact_log_bf01:.4f} "
        f"({result['density']['method']}, Pareto k {result['density']['pareto_k']:.2f}, "
        f"MCSE {result['density']['log_density_mcse']:.3f}, bound {result['bound']})"
    )
    if result["bound"] is None:
        assert result["reliable"], result["density"]
        assert abs(result["log_bf01"] - exact_log_bf01) < TOLERANCE

    else:
        limit = bf.BOUND_DIGITS * math.log(10)
        side = -1 if result["bound"]["factor"] == "bf10" else 1
        assert side * exact_log_bf01 > limit


# -- y ~ x, gaussian -----------------------------------------------------------------------


def regression(z: float, n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A two-group outcome whose mean difference is z standard errors."""
    rng = np.random.default_rng(seed)
    x = np.repeat([0.0, 1.0], n // 2)
    noise = rng.normal(0, 1.0, n)
    noise -= np.array([noise[x == g].mean() for g in x])  # the groups' means exactly 0
    se = math.sqrt(4 / n)
    return pd.DataFrame({"x": x, "y": 2.0 + z * se * x + noise})


def gaussian_marginal(y, design, prior_means, prior_sds, sigma) -> np.ndarray:
    """log p(y | sigma) with normal coefficients integrated out: y ~ N(X m, s^2 I + X S X'),
    by the matrix determinant lemma, for each sigma of an array."""
    sigma = np.atleast_1d(sigma)[:, None, None]
    n = design.shape[0]
    residual = y - design @ prior_means
    inner = np.diag(1 / np.asarray(prior_sds) ** 2)[None] + design.T @ design / sigma**2
    _, logdet_inner = np.linalg.slogdet(inner)
    projected = design.T @ residual / sigma[..., 0] ** 2
    solved = np.linalg.solve(inner, projected[..., None])[..., 0]
    quadratic = (residual @ residual) / sigma[:, 0, 0] ** 2 - (projected * solved).sum(-1)
    logdet = 2 * n * np.log(sigma[:, 0, 0]) + logdet_inner + 2 * np.log(np.asarray(prior_sds)).sum()
    return -0.5 * (n * math.log(2 * math.pi) + logdet + quadratic)


def over_sigma(log_given_sigma, sigma_prior_sd: float, centre: float) -> float:
    """log of the integral over sigma's half-normal prior, on a grid dense where the
    likelihood is (its posterior is sharp)."""
    grid = np.linspace(centre * 0.7, centre * 1.4, 4001)
    values = log_given_sigma(grid) + stats.halfnorm.logpdf(grid, scale=sigma_prior_sd)
    top = values.max()
    return top + math.log(integrate.simpson(np.exp(values - top), x=grid))


def exact_regression(data: pd.DataFrame) -> float:
    y, x = data["y"].to_numpy(), data["x"].to_numpy()
    centred = x - x.mean()  # Bambi's intercept is that of centred predictors
    ones = np.ones_like(y)
    centre = float(np.std(y - np.polyval(np.polyfit(x, y, 1), x)))

    def null(s):
        return gaussian_marginal(y, ones[:, None], np.zeros(1), [INTERCEPT["sigma"]], s)

    def effect(s):
        return gaussian_marginal(
            y,
            np.column_stack([ones, centred]),
            np.zeros(2),
            [INTERCEPT["sigma"], EFFECT["sigma"]],
            s,
        )

    return over_sigma(null, SIGMA["sigma"], centre) - over_sigma(effect, SIGMA["sigma"], centre)


@pytest.mark.parametrize("z", Z_SCORES)
def test_a_gaussian_regression_matches_the_exact_bayes_factor(z):
    data = regression(z)
    priors = {"Intercept": INTERCEPT, "x": EFFECT, "sigma": SIGMA}
    result = fitted_bf01(spec("y ~ x", priors), data)
    assert result["density"]["method"] == "collapsed"
    check(result, exact_regression(data), z)


# -- site slopes ---------------------------------------------------------------------------


def multisite(z: float, sites: int = 6, per_arm: int = 30, seed: int = 1) -> pd.DataFrame:
    """Sites whose effects vary (SD 0.25 of the residual's 1): the pooled effect is z of
    its standard errors (that of the sites' slopes and their noise)."""
    rng = np.random.default_rng(seed)
    slopes = rng.normal(0, 0.25, sites)
    rows = []
    se = math.sqrt((0.25**2 + 2 / per_arm) / sites)
    for site in range(sites):
        for arm in (0, 1):
            noise = rng.normal(0, 1, per_arm)
            mean = 0.5 * site / sites + arm * (z * se + slopes[site] - slopes.mean())
            rows += [{"site": f"s{site}", "x": float(arm), "y": mean + e} for e in noise]
    data = pd.DataFrame(rows)
    data["site"] = pd.Categorical(data["site"])
    return data


def exact_multisite(data: pd.DataFrame) -> float:
    """Given sigma and the slopes' SD, every coefficient (intercept, effect, site
    intercepts, site slopes) is normal: the outcome integrates them out in closed form;
    the two SDs by quadrature over their half-normal priors."""
    y, x = data["y"].to_numpy(), data["x"].to_numpy()
    sites = pd.get_dummies(data["site"]).to_numpy(float)
    site_columns = sites[:, 1:] - sites[:, 1:].mean(0)  # C(site), centred by Bambi
    ones, centred = np.ones_like(y), x - x.mean()
    slopes = sites * x[:, None]  # (0 + x | site): not centred (group terms never are)
    fixed = [ones, *site_columns.T]
    fixed_sd = [INTERCEPT["sigma"]] + [EFFECT["sigma"]] * site_columns.shape[1]
    taus = np.linspace(1e-4, 4 * SLOPES_SD, 160)
    sigmas = np.linspace(0.8, 1.25, 90)

    def log_evidence(with_effect: bool) -> float:
        columns = fixed + ([centred] if with_effect else [])
        sds = fixed_sd + ([EFFECT["sigma"]] if with_effect else [])
        values = np.empty((taus.size, sigmas.size))
        for i, tau in enumerate(taus):
            design = np.column_stack([*columns, slopes])
            prior_sds = np.array([*sds, *([tau] * slopes.shape[1])])
            values[i] = gaussian_marginal(y, design, np.zeros(len(prior_sds)), prior_sds, sigmas)
        values += stats.halfnorm.logpdf(taus, scale=SLOPES_SD)[:, None]
        values += stats.halfnorm.logpdf(sigmas, scale=SIGMA["sigma"])[None, :]
        top = values.max()
        inner = integrate.simpson(np.exp(values - top), x=sigmas, axis=1)
        return top + math.log(integrate.simpson(inner, x=taus))

    return log_evidence(False) - log_evidence(True)


@pytest.mark.parametrize("z", Z_SCORES)
def test_a_rung_with_site_slopes_matches_the_exact_bayes_factor(z):
    """The effect trades off with the mean of the site slopes: a draw's conditional given
    them is narrower than the posterior, so the slopes are integrated out too, and their
    SD by quadrature (with the draws' own SDs, the few largest carried the mean at z = 6
    and 8: Pareto k 0.9, 0.5 off)."""
    data = multisite(z)
    priors = {
        "Intercept": INTERCEPT,
        "x": EFFECT,
        "C(site)": EFFECT,
        "x|site": {"dist": "Normal", "mu": 0, "sigma": {"dist": "HalfNormal", "sigma": SLOPES_SD}},
        "sigma": SIGMA,
    }
    result = fitted_bf01(spec("y ~ x + C(site) + (0 + x | site)", priors), data)
    assert result["density"]["method"] == "collapsed"
    check(result, exact_multisite(data), z)


# -- a logistic regression: the conditional way --------------------------------------------


def logistic(z: float, n: int = 600) -> pd.DataFrame:
    """Two groups of n/2, a success rate of 1/2 in the first, and in the second one whose
    log odds ratio is z of its standard errors."""
    half = n // 2
    count = half // 2
    for _ in range(50):  # the second group's successes, by fixed point on the SE
        p = count / half
        se = math.sqrt(4 / half + 1 / (half * p * (1 - p)))
        count = int(np.clip(np.rint(half * expit(z * se)), 1, half - 1))
    successes = [half // 2, count]
    rows = [
        {"x": float(group), "y": float(i < k)}
        for group, k in enumerate(successes)
        for i in range(half)
    ]
    return pd.DataFrame(rows)


def exact_logistic(data: pd.DataFrame) -> float:
    """BF01 = p(y | b = 0) / p(y | b ~ prior), the intercept (that of centred x, as Bambi
    has it) integrated over its prior on a grid, and b too under the alternative."""
    x = data["x"].to_numpy()
    groups = data.groupby("x")["y"].agg(["sum", "count"])  # the likelihood's statistics
    centred = groups.index.to_numpy() - x.mean()
    successes, trials = groups["sum"].to_numpy(), groups["count"].to_numpy()
    a = np.linspace(-3, 3, 1201)
    b = np.linspace(-3, 5, 1601)

    def log_lik(intercept, slope):
        eta = intercept[..., None] + slope[..., None] * centred
        return (successes * eta - trials * np.logaddexp(0, eta)).sum(-1)

    prior_a = stats.norm.logpdf(a, 0, INTERCEPT["sigma"])
    null = log_lik(a, np.zeros_like(a)) + prior_a
    log_null = logsumexp(null) + math.log(a[1] - a[0])
    grid = log_lik(a[:, None], b[None, :]) + prior_a[:, None]
    grid += stats.norm.logpdf(b, 0, EFFECT["sigma"])[None, :]
    log_alternative = logsumexp(grid) + math.log((a[1] - a[0]) * (b[1] - b[0]))
    return float(log_null - log_alternative)


@pytest.mark.parametrize("z", (0, 2, 4, 6))
def test_a_logistic_regression_matches_the_exact_bayes_factor(z):
    data = logistic(z)
    priors = {"Intercept": INTERCEPT, "x": EFFECT}
    result = fitted_bf01(spec("y ~ x", priors, family="bernoulli"), data)
    assert result["density"]["method"] == "conditional"
    check(result, exact_logistic(data), z)


# -- clusters with the treatment between them: centred on their intercepts ------------------

CLUSTER_SD = {"dist": "HalfNormal", "sigma": 1.0}


def clustered(z: float, clusters: int, size: int, sd: float, seed: int = 3) -> pd.DataFrame:
    """Binary outcomes in clusters of `size` (their intercepts' SD `sd` on the logit),
    half the clusters treated: the treated clusters' log odds raised by about z standard
    errors."""
    rng = np.random.default_rng(seed)
    treated = np.arange(clusters) % 2
    se = math.sqrt(4 * (sd**2 + 4 / size) / clusters)
    log_odds = rng.normal(0, sd, clusters) + z * se * treated
    successes = rng.binomial(size, expit(log_odds))
    rows = [
        {"cluster": f"c{c}", "x": float(treated[c]), "y": float(i < successes[c])}
        for c in range(clusters)
        for i in range(size)
    ]
    return pd.DataFrame(rows)


def exact_clustered(data: pd.DataFrame) -> float:
    """BF01 by quadrature. Given the SD, a cluster's likelihood depends on its log odds
    eta (the intercept of centred x, plus the effect times its centred x) through its
    successes k alone: its intercept integrates out as the convolution of
    p(k | eta + u) with N(u; 0, SD), on a uniform grid (FFT). The control and treated
    clusters' etas are a change of variables of (intercept, effect) with Jacobian 1, so
    the evidence is a sum over a grid of the two etas and the SD."""
    from scipy import signal

    counts = data.groupby(["cluster", "x"])["y"].agg(["sum", "count"]).reset_index()
    (size,) = counts["count"].unique()
    step = 0.0125
    eta = np.arange(-4, 4 + step / 2, step)
    sds = np.linspace(0.01, 3.0, 120)
    u = np.arange(-6 * sds[-1], 6 * sds[-1] + step / 2, step)
    t = eta[0] + u[0] + step * np.arange(eta.size + u.size - 1)
    log_p, log_q = -np.logaddexp(0, -t), -np.logaddexp(0, t)
    kernels = stats.norm.pdf(u[None, :], 0, sds[:, None])
    kernels /= kernels.sum(1, keepdims=True)

    def arm(treated: bool) -> np.ndarray:
        """log p(the arm's clusters | eta, sd): (eta, sd)."""
        k = counts.loc[counts["x"] == float(treated), "sum"].to_numpy()
        total = np.zeros((eta.size, sds.size))
        for value, clusters in zip(*np.unique(k, return_counts=True), strict=True):
            log_g = value * log_p + (size - value) * log_q
            g = np.exp(log_g - log_g.max())
            for j, kernel in enumerate(kernels):
                convolved = signal.fftconvolve(g, kernel[::-1], mode="valid")
                total[:, j] += clusters * (np.log(np.maximum(convolved, 1e-300)) + log_g.max())
        return total

    control, treated = arm(False), arm(True)
    x_bar = data["x"].mean()  # eta = intercept + effect (x - x_bar), Bambi's centred intercept
    prior_sd = stats.halfnorm.logpdf(sds, scale=CLUSTER_SD["sigma"]) + math.log(sds[1] - sds[0])
    # H1: intercept = (1 - x_bar) eta_c + x_bar eta_t, effect = eta_t - eta_c.
    intercept = (1 - x_bar) * eta[:, None] + x_bar * eta[None, :]
    effect = eta[None, :] - eta[:, None]
    log_prior = stats.norm.logpdf(intercept, 0, INTERCEPT["sigma"]) + stats.norm.logpdf(
        effect, 0, EFFECT["sigma"]
    )
    alternative = control[:, None, :] + treated[None, :, :] + log_prior[..., None]
    log_alternative = logsumexp(alternative + prior_sd) + 2 * math.log(step)
    null = control + treated + stats.norm.logpdf(eta, 0, INTERCEPT["sigma"])[:, None]
    log_null = logsumexp(null + prior_sd) + math.log(step)
    return float(log_null - log_alternative)


def clustered_bf01(data: pd.DataFrame) -> dict:
    priors = {
        "Intercept": INTERCEPT,
        "x": EFFECT,
        "1|cluster": {"dist": "Normal", "mu": 0, "sigma": CLUSTER_SD},
    }
    return fitted_bf01(spec("y ~ x + (1|cluster)", priors, family="bernoulli"), data)


@pytest.mark.parametrize("z", (3, 5))
def test_clusters_with_much_data_are_centred_on_their_intercepts(z):
    """The treatment constant within clusters of 40: the cluster intercepts take up any
    shift of the effect, and with as much data a cluster its intercept trades off with
    the effect: the density at zero conditions on the intercepts centred on it. (At
    z = 6 its Monte Carlo error is 0.09 over 8,000 draws: four seeds missed the exact
    figure by -0.03 to 0.16, reported as reliable, which holds it to 0.1 at one SD.)"""
    data = clustered(z, clusters=30, size=40, sd=1.0)
    result = clustered_bf01(data)
    assert result["density"]["method"].startswith("centred on 1|cluster")
    check(result, exact_clustered(data), z)


def test_small_clusters_keep_the_full_conditional():
    """Clusters of 8 and a small SD: the intercepts say little and trade off little with
    the effect; the full conditional is the wider, and is kept."""
    data = clustered(3, clusters=40, size=8, sd=0.5)
    result = clustered_bf01(data)
    assert result["density"]["method"] == "conditional"
    check(result, exact_clustered(data), 3)


def test_where_the_draws_cannot_reach_the_figure_is_a_bound():
    """Terms carried by a few draws (one far larger than the rest): Pareto k above 0.7,
    and a figure beyond 10^6 is stated as that bound, not a number."""
    import xarray as xr

    rng = np.random.default_rng(4)
    log_terms = rng.standard_normal((4, 500)) * 6 - 40
    terms = xr.DataArray(log_terms, dims=("chain", "draw"), attrs={"method": "collapsed"})
    result = bf.savage_dickey(terms, EFFECT)
    assert result["density"]["pareto_k"] > bf.RELIABLE_K and not result["reliable"]
    assert result["bound"] == {"factor": "bf10", "above": 1e6}
    assert bf.stated(result) == "BF10 > 10^6"


# -- the meta-analysis rung ---------------------------------------------------------------


def sites_table(z: float, sites: int = 10, seed: int = 3) -> pd.DataFrame:
    """Site estimates varying beyond their SEs (tau 0.1), their mean z pooled SEs."""
    rng = np.random.default_rng(seed)
    se = rng.uniform(0.15, 0.3, sites)
    deviations = rng.normal(0, 0.1, sites) + rng.normal(0, se)
    pooled_se = math.sqrt(1 / (1 / (se**2 + 0.1**2)).sum())
    return pd.DataFrame(
        {
            "site": [f"lab{k}" for k in range(sites)],
            "effect": z * pooled_se + deviations - deviations.mean(),
            "se": se,
            "outcome_sd": 1.0,
        }
    )


METABMA = (  # metaBMA's default priors: no normal on the effect, no half-normal on tau
    {"dist": "Cauchy", "alpha": 0.0, "beta": 0.707},
    {"dist": "InverseGamma", "alpha": 1.0, "beta": 0.15},
)


@pytest.mark.parametrize(
    ("z", "priors"),
    [(z, (EFFECT, {"dist": "HalfNormal", "sigma": 0.3})) for z in Z_SCORES]
    + [(z, METABMA) for z in (0, 4, 8)],
)
def test_the_meta_analysis_rung_matches_model_averagings_exact_marginals(z, priors):
    from replication_ladder.verdict.model_averaging import Averaging

    data = sites_table(z)
    effect, tau = priors
    rung_spec = {
        **spec(None, {"x": effect, "x|site_sigma": tau}),
        "kind": "pymc",
        "level": "sites",
        "builder": "replication_ladder.models.builders.meta_analysis",
        "family": None,
        "site": "site",
    }
    result = fitted_bf01(rung_spec, data)
    averaging = Averaging(data["effect"], data["se"], effect, tau)
    exact = averaging.log_marginal("random_null") - averaging.log_marginal("random_effect")
    assert result["density"]["method"] == "collapsed"
    check(result, exact, z)


def test_a_rung_whose_only_parameter_is_the_effect_is_exact():
    """The fixed-effect meta-analysis: nothing but the effect, so every draw's term is
    the posterior's own density at zero; against model averaging's closed form."""
    from replication_ladder.verdict.model_averaging import Averaging

    data = sites_table(3)
    rung_spec = {
        **spec(None, {"x": EFFECT}),
        "kind": "pymc",
        "level": "sites",
        "builder": "replication_ladder.models.builders.fixed_effect",
        "family": None,
        "site": "site",
    }
    result = fitted_bf01(rung_spec, data)
    averaging = Averaging(data["effect"], data["se"], EFFECT, {"dist": "HalfNormal", "sigma": 1})
    exact = averaging.log_marginal("fixed_null") - averaging.log_marginal("fixed_effect")
    assert result["density"]["log_density_mcse"] == 0.0
    assert result["log_bf01"] == pytest.approx(exact, abs=1e-9)
