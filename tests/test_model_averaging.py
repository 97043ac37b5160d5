"""The model-averaged meta-analysis, its effect sizes and Egger's test against
independent references: marginal likelihoods against a two-dimensional quadrature of
the uncollapsed likelihood over (mu, tau) (scipy's dblquad), the exact posterior draws
against PyMC's NUTS on the same model (the `meta_analysis` builder), inclusion Bayes
factors against a known truth, and effect sizes and Egger's test against R's metafor
(`escalc`, `regtest`) on the same numbers."""

import math
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from summary_exports import random_sites

from replication_ladder.data import effect_sizes
from replication_ladder.models.builders import meta_analysis
from replication_ladder.verdict.model_averaging import (
    HAS_EFFECT,
    MODELS,
    Averaging,
    averaged_meta_analysis,
)
from replication_ladder.verdict.small_studies import egger_test

EFFECT_PRIOR = {"dist": "Normal", "mu": 0.0, "sigma": 0.5}
TAU_PRIORS = [
    {"dist": "HalfNormal", "sigma": 0.3},
    {"dist": "HalfCauchy", "beta": 0.1},
    {"dist": "HalfStudentT", "nu": 3, "sigma": 0.2},
]


def sites(k: int, mu: float, tau: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    se = rng.uniform(0.1, 0.3, k)
    return mu + rng.normal(0, tau, k) + rng.normal(0, se), se


def tau_density(prior: dict):
    """The half-distributions' densities written out (scipy's frozen ones are too slow
    inside a double quadrature)."""
    if prior["dist"] == "HalfNormal":
        sigma = prior["sigma"]
        return lambda t: 2 * math.exp(-0.5 * (t / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    if prior["dist"] == "HalfCauchy":
        beta = prior["beta"]
        return lambda t: 2 / (math.pi * beta * (1 + (t / beta) ** 2))
    nu, sigma = prior["nu"], prior["sigma"]
    constant = (
        2
        * math.exp(math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2))
        / (math.sqrt(nu * math.pi) * sigma)
    )
    return lambda t: constant * (1 + (t / sigma) ** 2 / nu) ** (-(nu + 1) / 2)


@pytest.mark.parametrize("tau_prior", TAU_PRIORS, ids=lambda p: p["dist"])
def test_marginal_likelihoods_match_quadrature_of_the_uncollapsed_model(tau_prior):
    """Independent of the closed form in mu: integrate prod_k N(y_k; mu, se_k^2 + tau^2)
    against both priors numerically (dblquad over mu and tau; quad for one of them)."""
    effect, se = sites(12, 0.15, 0.1, seed=3)
    averaging = Averaging(effect, se, EFFECT_PRIOR, tau_prior)
    m, s = EFFECT_PRIOR["mu"], EFFECT_PRIOR["sigma"]
    prior_tau = tau_density(tau_prior)

    def prior_mu(mu):
        return math.exp(-0.5 * ((mu - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))

    def log_lik(mu, tau):
        v = se**2 + tau**2
        return -0.5 * float(np.sum(np.log(2 * math.pi * v) + (effect - mu) ** 2 / v))

    ours = {m: averaging.log_marginal(m) for m in MODELS}
    shift = ours["random_effect"]
    value, _ = integrate.dblquad(
        lambda mu, tau: math.exp(log_lik(mu, tau) - shift) * prior_mu(mu) * prior_tau(tau),
        0, 20, -4, 4, epsabs=1e-9,
    )  # fmt: skip
    reference = {"random_effect": shift + math.log(value)}
    shift = ours["fixed_effect"]
    value, _ = integrate.quad(
        lambda mu: math.exp(log_lik(mu, 0.0) - shift) * prior_mu(mu), -4, 4, epsabs=1e-12
    )
    reference["fixed_effect"] = shift + math.log(value)
    shift = ours["random_null"]
    value, _ = integrate.quad(
        lambda tau: math.exp(log_lik(0.0, tau) - shift) * prior_tau(tau), 0, np.inf, epsabs=1e-12
    )
    reference["random_null"] = shift + math.log(value)
    reference["fixed_null"] = float(stats.norm.logpdf(effect, 0, se).sum())
    for model in MODELS:
        print(f"margin: {model} {ours[model]:.8f} against {reference[model]:.8f}")
        assert ours[model] == pytest.approx(reference[model], abs=1e-5)


# Gronau et al. (2017), "A Bayesian model-averaged meta-analysis of the power pose
# effect": the six pre-registered replications' d and standard error (metaBMA's
# `power_pose` data set), and the Bayes factors the paper reports with a Cauchy(0, 1/sqrt 2)
# prior on d truncated to d > 0 and tau ~ InverseGamma(1, 0.15) (metaBMA's tests hold
# its own figures to them).
POWER_POSE_D = [0.250764017924524, 0.227517972804145, 0.318606850192274]
POWER_POSE_D += [0.283208185749830, 0.146394854929443, 0.150977327119720]
POWER_POSE_SE = [0.207139918036344, 0.193104616308138, 0.142322788099776]
POWER_POSE_SE += [0.142135559910985, 0.141610658616767, 0.122116593013658]


def test_the_power_pose_analysis_gives_the_published_bayes_factors():
    """Reference: the published table (BF10 89.570 fixed, 9.374 random, inclusion
    33.136), under a prior on the effect that is no normal and is truncated, and metaBMA's
    default prior on tau: the effect integrated against its likelihood by quadrature."""
    effect = {"dist": "Cauchy", "alpha": 0.0, "beta": 1 / math.sqrt(2), "truncate": {"lower": 0}}
    tau = {"dist": "InverseGamma", "alpha": 1.0, "beta": 0.15}
    averaging = Averaging(np.array(POWER_POSE_D), np.array(POWER_POSE_SE), effect, tau)
    log_ml = {m: averaging.log_marginal(m) for m in MODELS}
    fixed = math.exp(log_ml["fixed_effect"] - log_ml["fixed_null"])
    random = math.exp(log_ml["random_effect"] - log_ml["random_null"])
    prior = dict.fromkeys(MODELS, 0.25)
    result = averaged_meta_analysis(
        POWER_POSE_D,
        POWER_POSE_SE,
        {"effect": effect, "tau": tau},
        {"prior_probabilities": list(prior.values()), "seed": 1, "draws": 40_000, "ci_prob": 0.95},
    )
    print(f"margin: BF10 fixed {fixed:.4f} (89.570), random {random:.4f} (9.374)")
    assert fixed == pytest.approx(89.570, abs=5e-4)
    assert random == pytest.approx(9.374, abs=5e-4)
    assert result["inclusion"]["effect_bf10"] == pytest.approx(33.136, abs=5e-4)
    # The truncated prior's draws stay on its side.
    averaged = result["averaged"]
    assert averaged["effect"]["ci_low"] > 0
    # Over all four models the nulls' zero counts: the mean shrinks by P(an effect | data).
    p_effect = sum(result["models"][m]["posterior_probability"] for m in MODELS if HAS_EFFECT[m])
    all_models = averaged["effect_all_models"]["mean"]
    assert all_models == pytest.approx(p_effect * averaged["effect"]["mean"], rel=0.02)
    assert averaged["conditional_on"]["effect"].startswith("an effect")


def test_posterior_model_probabilities_and_inclusion_follow_the_truth():
    """Known truth: a clear, heterogeneous effect gives both inclusion Bayes factors far
    above 1; a null effect without heterogeneity gives both below 1; the probabilities
    are the prior-weighted marginal likelihoods, normalised."""
    spec = {"prior_probabilities": [0.25] * 4, "seed": 1, "draws": 4000, "ci_prob": 0.95}
    priors = {"effect": EFFECT_PRIOR, "tau": TAU_PRIORS[0]}
    strong = averaged_meta_analysis(*sites(15, 0.8, 0.3, seed=7), priors, spec)
    assert strong["inclusion"]["effect_bf10"] > 100
    assert strong["inclusion"]["heterogeneity_bf"] > 10
    null = averaged_meta_analysis(*sites(15, 0.0, 0.0, seed=6), priors, spec)
    assert null["inclusion"]["effect_bf10"] < 1
    assert null["inclusion"]["heterogeneity_bf"] < 1
    logs = np.array([null["models"][m]["log_marginal_likelihood"] for m in MODELS])
    expected = np.exp(logs - logs.max()) / np.exp(logs - logs.max()).sum()
    got = [null["models"][m]["posterior_probability"] for m in MODELS]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # Equal prior probabilities: the inclusion BF is the ratio of summed likelihoods.
    ml = dict(zip(MODELS, np.exp(logs), strict=True))
    bf = (ml["fixed_effect"] + ml["random_effect"]) / (ml["fixed_null"] + ml["random_null"])
    assert null["inclusion"]["effect_bf10"] == pytest.approx(bf, rel=1e-10)
    rows = pd.DataFrame(null["sensitivity"])
    stated = rows[(rows["effect_scale"] == 1) & (rows["tau_scale"] == 1)].iloc[0]
    assert stated["effect_bf10"] == pytest.approx(null["inclusion"]["effect_bf10"])


@pytest.mark.sampling
@pytest.mark.parametrize("noncentered", [True, False])
def test_exact_draws_match_pymc_nuts_on_the_random_effects_model(noncentered):
    """The random-effects model's exact draws (tau from its gridded posterior, mu given
    tau in closed form) against PyMC's NUTS on the `meta_analysis` builder, same priors,
    the sites' deviations sampled as offsets or themselves (`noncentered: false`):
    posterior means of mu and tau agree within 4 Monte Carlo standard errors."""
    import arviz as az
    import pymc as pm

    effect, se = sites(12, 0.2, 0.15, seed=8)
    frame = pd.DataFrame({"site": [f"s{i}" for i in range(12)], "effect": effect, "se": se})
    tau = TAU_PRIORS[0] if noncentered else {**TAU_PRIORS[0], "noncentered": False}
    spec = {"treatment": "x", "site": "site", "priors": {"x": EFFECT_PRIOR, "x|site_sigma": tau}}
    model = meta_analysis(frame, spec)
    offsets = {rv.name for rv in model.free_RVs} & {"x|site_offset"}
    assert offsets == ({"x|site_offset"} if noncentered else set())
    with model:
        idata = pm.sample(
            2000, tune=1000, chains=2, random_seed=11, progressbar=False, target_accept=0.95
        )
    exact = Averaging(effect, se, EFFECT_PRIOR, TAU_PRIORS[0]).draws(
        "random_effect", 200_000, np.random.default_rng(2)
    )
    summary = az.summary(idata, var_names=["x", "x|site_sigma"], kind="all")
    for name, key in (("x", "mu"), ("x|site_sigma", "tau")):
        mean, mcse = summary.loc[name, "mean"], summary.loc[name, "mcse_mean"]
        print(f"margin: {name} NUTS {mean:.4f} +/- {mcse:.4f}, exact {exact[key].mean():.4f}")
        assert abs(mean - exact[key].mean()) < 4 * mcse + 1e-3


ESCALC = """
library(metafor)
d <- read.csv("{path}")
md <- escalc("MD", m1i = mean_treatment, sd1i = sd_treatment, n1i = n_treatment,
             m2i = mean_control, sd2i = sd_control, n2i = n_control, data = d)
g <- escalc("SMD", m1i = mean_treatment, sd1i = sd_treatment, n1i = n_treatment,
            m2i = mean_control, sd2i = sd_control, n2i = n_control, data = d)
t <- escalc("SMD", ti = t, n1i = n_treatment, n2i = n_control, data = d)
e <- regtest(rma(yi = effect, sei = se, data = d, method = "FE"), model = "lm")
write.csv(data.frame(md = md$yi, md_v = md$vi, g = g$yi, g_v = g$vi, tg = t$yi,
    tg_v = t$vi, egger_t = e$zval, egger_p = e$pval, egger_df = e$dfs), "{out}",
    row.names = FALSE)
"""


def rscript(code: str) -> None:
    path = shutil.which("Rscript")
    assert path, "Rscript not found: `make setup-test` installs r-base-core and r-cran-metafor"
    subprocess.run([path, "-e", code], capture_output=True, text=True, check=True)


def test_effect_sizes_and_egger_match_metafor(tmp_path):
    """escalc's MD and SMD (Hedges' g, its large-sample variance, and from a t statistic)
    and regtest's classic Egger test against ours on 9 sites' summaries; Cohen's d is
    g / J, J from its closed form (Hedges 1981)."""
    table = random_sites(9, seed=4)
    d = (table["mean_treatment"] - table["mean_control"]) / effect_sizes.pooled_sd(
        table["sd_treatment"], table["sd_control"], table["n_treatment"], table["n_control"]
    )
    table["t"] = d / np.sqrt(1 / table["n_treatment"] + 1 / table["n_control"])
    arms = [table[f"{s}_treatment"] for s in ("mean", "sd", "n")]
    arms += [table[f"{s}_control"] for s in ("mean", "sd", "n")]
    table["effect"], table["se"] = effect_sizes.from_arms(*arms, "raw")
    path = tmp_path / "sites.csv"
    table.to_csv(path, index=False)
    rscript(ESCALC.format(path=path, out=tmp_path / "metafor.csv"))
    theirs = pd.read_csv(tmp_path / "metafor.csv")
    raw, raw_se = effect_sizes.from_arms(*arms, "raw")
    g, g_se = effect_sizes.from_arms(*arms, "g")
    tg, tg_se = effect_sizes.from_t(table["t"], table["n_treatment"], table["n_control"], "g")
    np.testing.assert_allclose(raw, theirs["md"], rtol=1e-10)
    np.testing.assert_allclose(raw_se**2, theirs["md_v"], rtol=1e-10)
    np.testing.assert_allclose(g, theirs["g"], rtol=1e-10)
    np.testing.assert_allclose(g_se**2, theirs["g_v"], rtol=1e-10)
    np.testing.assert_allclose(tg, theirs["tg"], rtol=1e-10)
    np.testing.assert_allclose(tg_se**2, theirs["tg_v"], rtol=1e-10)
    cohen, _ = effect_sizes.from_arms(*arms, "d")
    m = table["n_treatment"] + table["n_control"] - 2
    j = np.exp(
        np.vectorize(math.lgamma)(m / 2)
        - 0.5 * np.log(m / 2)
        - np.vectorize(math.lgamma)((m - 1) / 2)
    )
    np.testing.assert_allclose(cohen, np.asarray(theirs["g"]) / j, rtol=1e-10)
    egger = egger_test(table["effect"], table["se"])
    print(f"margin: Egger t {egger['t']:.6f} against {theirs['egger_t'].iloc[0]:.6f}")
    assert egger["t"] == pytest.approx(theirs["egger_t"].iloc[0], rel=1e-8)
    assert egger["p"] == pytest.approx(theirs["egger_p"].iloc[0], rel=1e-8)
    assert egger["df"] == theirs["egger_df"].iloc[0]
