"""The two-stage analysis's first stage (per-site effects from participant means), its
meta-analysis against the published RRR figures, and the intraclass correlation."""

import math

import numpy as np
import pandas as pd
import pytest

from replication_ladder.base.errors import DataError
from replication_ladder.data.design_effects import intraclass_correlation
from replication_ladder.data.sites import participant_means, per_site_effects


def study() -> pd.DataFrame:
    """Two sites, participants rating two stimuli each, condition between participants."""
    rows = []
    ratings = {  # (site, participant, condition): ratings
        ("a", 1, 0): [3, 5],
        ("a", 2, 0): [4, 4],
        ("a", 3, 1): [6, 6],
        ("a", 4, 1): [5, 7],
        ("b", 1, 0): [2, 2],  # participant 1 again: another person in another site
        ("b", 2, 0): [3, 5],
        ("b", 3, 0): [1, 3],
        ("b", 4, 1): [4, 6],
        ("b", 5, 1): [3, 3],
    }
    for (site, who, condition), values in ratings.items():
        rows += [{"site": site, "uid": who, "treated": condition, "y": v} for v in values]
    return pd.DataFrame(rows)


def test_effects_are_differences_of_participant_means_with_welch_errors():
    """Worked by hand: site a, control means 4 and 4, treated 6 and 6 -> effect 2, se 0
    from sample SDs of 0; site b, control 2, 4, 2 (mean 8/3, sd 1.1547), treated 5, 3
    (mean 4, sd 1.4142) -> effect 4/3, se sqrt(1.3333/3 + 2/2)."""
    table = per_site_effects(participant_means(study(), "site", "uid", "treated", "y"))
    a, b = table.set_index("site").loc["a"], table.set_index("site").loc["b"]
    assert (a["n_control"], a["n_treatment"], a["effect"], a["se"]) == (2, 2, 2.0, 0.0)
    assert b["effect"] == pytest.approx(4 - 8 / 3)
    assert b["se"] == pytest.approx(math.sqrt((4 / 3) / 3 + 2 / 2))
    assert b["mean_control"] == pytest.approx(8 / 3) and b["sd_treatment"] == pytest.approx(
        math.sqrt(2)
    )


def test_a_participant_in_both_conditions_is_refused():
    data = study()
    data.loc[0, "treated"] = 1
    with pytest.raises(DataError, match=r"participant 1 of site 'a' has rows in both conditions"):
        participant_means(data, "site", "uid", "treated", "y")


def test_a_site_without_two_participants_per_condition_is_left_out():
    data = study()
    data = data[~((data["site"] == "a") & (data["uid"] == 4))]
    full = study()
    data = pd.concat([data, full[full["site"] == "a"].assign(site="c")])
    table = per_site_effects(participant_means(data, "site", "uid", "treated", "y"))
    assert list(table["site"]) == ["b", "c"]


def meta_analysis_by_quadrature(effect, se, prior_sd, tau_sd, quantiles):
    """The pooled effect's posterior mean and quantiles in the normal random-effects model
    with known standard errors, mu ~ N(0, prior_sd), tau ~ HalfNormal(tau_sd), by
    integrating over tau on a grid: given tau, mu's posterior is normal in closed form,
    and tau's marginal likelihood is a multivariate normal."""
    from scipy import stats

    taus = np.linspace(0, 6 * tau_sd, 4001)[1:]
    log_post, means, sds = [], [], []
    for tau in taus:
        variance = se**2 + tau**2
        covariance = np.diag(variance) + prior_sd**2
        log_post.append(
            stats.multivariate_normal(np.zeros(len(effect)), covariance).logpdf(effect)
            + stats.halfnorm(scale=tau_sd).logpdf(tau)
        )
        precision = 1 / prior_sd**2 + (1 / variance).sum()
        means.append((effect / variance).sum() / precision)
        sds.append(precision**-0.5)
    weights = np.exp(np.array(log_post) - max(log_post))
    weights /= weights.sum()
    means, sds = np.array(means), np.array(sds)
    grid = np.linspace(means.min() - 6 * sds.max(), means.max() + 6 * sds.max(), 20001)
    cdf = (weights[:, None] * stats.norm.cdf(grid[None, :], means[:, None], sds[:, None])).sum(0)
    return float(weights @ means), [float(np.interp(q, cdf, grid)) for q in quantiles]


@pytest.mark.sampling
def test_the_meta_analysis_rung_reproduces_the_published_rrr(rrr_table, tmp_path):
    """The two-stage analysis on the RRR with the rung's default sampling (17 sites):
    against the same model integrated by quadrature over tau (independent of the sampler),
    mean and 2.5%/97.5% quantiles within 0.015 (their Monte Carlo errors from about 8000
    effective draws are under 0.005: three of them); against the published estimate
    0.03 [-0.11, 0.16] (Wagenmakers et al. 2016), the mean within 0.05 and the width
    within 20% of 0.27. The model's exact width (quadrature) is 0.309, 14% wider than the
    published: it integrates over the labs' heterogeneity where the published analysis
    plugged in a point estimate; 15% would leave no room for Monte Carlo error."""
    from replication_ladder.config import Ladder
    from replication_ladder.models.fit import with_densities
    from replication_ladder.models.kinds import build_rung
    from replication_ladder.models.samplers import compile_rung

    from conftest import config_copy

    ladder = Ladder(config_copy())
    spec = ladder.model_spec("rrr", "meta_analysis")
    sites = per_site_effects(participant_means(rrr_table, "study", "uid", "condition", "value"))
    rung = build_rung(spec, sites)
    raw = compile_rung(rung, spec["sampling"]).sample(spec["seed"], 2)
    idata, _ = with_densities(rung, raw, tmp_path / "posterior.nc")
    draws = idata["posterior"]["condition"].values.ravel()
    low, high = np.quantile(draws, [0.025, 0.975])
    priors = rung.priors()
    mean, (exact_low, exact_high) = meta_analysis_by_quadrature(
        sites["effect"].to_numpy(float),
        sites["se"].to_numpy(float),
        priors["condition"]["sigma"],
        priors["condition|study_sigma"]["sigma"],
        [0.025, 0.975],
    )
    print(
        f"meta-analysis of the RRR: {draws.mean():.3f} [{low:.3f}, {high:.3f}], width "
        f"{high - low:.3f}; by quadrature {mean:.3f} [{exact_low:.3f}, {exact_high:.3f}]"
    )
    assert abs(draws.mean() - mean) < 0.015
    assert abs(low - exact_low) < 0.015 and abs(high - exact_high) < 0.015
    assert abs(draws.mean() - 0.03) < 0.05
    assert abs((high - low) / 0.27 - 1) < 0.20
    assert int(idata["sample_stats"]["diverging"].sum()) == 0


def test_icc_matches_the_anova_closed_form():
    """Balanced groups: ICC(1) = (MSB - MSW) / (MSB + (k - 1) MSW), written out here."""
    rng = np.random.default_rng(0)
    groups, k = 200, 4
    effects = rng.normal(0, 1.0, groups)
    values = np.repeat(effects, k) + rng.normal(0, 2.0, groups * k)
    labels = np.repeat(np.arange(groups), k)
    result = intraclass_correlation(pd.Series(values), pd.Series(labels))
    frame = pd.DataFrame({"y": values, "g": labels})
    means = frame.groupby("g")["y"].mean()
    msb = k * ((means - values.mean()) ** 2).sum() / (groups - 1)
    msw = ((frame["y"] - frame.groupby("g")["y"].transform("mean")) ** 2).sum() / (groups * (k - 1))
    assert result["icc"] == pytest.approx((msb - msw) / (msb + (k - 1) * msw))
    assert result["design_effect"] == pytest.approx(1 + (k - 1) * result["icc"])
    # And near the truth, 1 / (1 + 4) = 0.2, within its sampling error (about 0.04).
    assert abs(result["icc"] - 0.2) < 0.1


def test_the_sites_design_effect_of_the_treatment_is_not_the_grand_means(rrr_table):
    """The RRR's labs differ in mean rating (the grand mean's design effect is about 10)
    but not in the pen's effect (REML tau^2 = 0, metafor's figure): the treatment's
    design effect from sites is 1. Closed form: with tau^2 = se^2 at every site, the
    variance doubles."""
    from replication_ladder.data.design_effects import site_design_effect_of_treatment
    from replication_ladder.verdict.random_effects import random_effects

    grand_mean = intraclass_correlation(rrr_table["value"], rrr_table["study"])
    assert grand_mean["design_effect"] > 5
    sites = per_site_effects(participant_means(rrr_table, "study", "uid", "condition", "value"))
    tau2 = random_effects(sites["effect"], sites["se"])["tau2"]
    assert site_design_effect_of_treatment(sites["se"], tau2) == pytest.approx(1.0)
    assert site_design_effect_of_treatment([0.5, 0.5, 0.5], 0.25) == pytest.approx(2.0)


def paired_study(seed: int = 3, sites: int = 4, participants: int = 25) -> pd.DataFrame:
    """Every participant in both conditions, several trials each, one trial missing here
    and there, and one participant with no treated trial at all."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(sites):
        for p in range(participants):
            person = rng.normal(0, 1)
            for treated in (0, 1):
                for _ in range(3):
                    rows.append(
                        {
                            "site": f"s{s}",
                            "uid": p,
                            "treated": treated,
                            "y": 5 + person + 0.4 * treated + rng.normal(0, 1),
                        }
                    )
    data = pd.DataFrame(rows).sample(frac=0.97, random_state=1)
    lonely = (data["site"] == "s0") & (data["uid"] == 0) & (data["treated"] == 1)
    return data[~lonely].reset_index(drop=True)


def test_a_within_participant_design_is_read_from_the_data_and_paired():
    """Each site's effect is the mean of its participants' differences (treated mean
    minus control mean, per participant), its SE their SD over sqrt(n): written out here
    with pandas; the participant without a treated trial is left out."""
    from replication_ladder.data.sites import treatment_design

    data = paired_study()
    assert treatment_design(data, "uid", "treated", "site") == "within"
    cells = participant_means(data, "site", "uid", "treated", "y", design="within")
    table = per_site_effects(cells, "raw", "within")
    by_person = data.groupby(["site", "uid", "treated"])["y"].mean().unstack()
    differences = (by_person[1] - by_person[0]).dropna()
    expected = differences.groupby(level="site").agg(["mean", "std", "count"])
    np.testing.assert_allclose(table["effect"], expected["mean"], rtol=1e-12)
    np.testing.assert_allclose(
        table["se"], expected["std"] / np.sqrt(expected["count"]), rtol=1e-12
    )
    assert list(table["n_treatment"]) == list(expected["count"]) and table["n_treatment"][0] == 24
    assert set(table["design"]) == {"within"} and table["correlation"].between(0.3, 0.9).all()


def test_a_half_paired_design_is_refused_unless_declared():
    """Two of nine participants in both conditions: neither design; the message says how
    to declare it."""
    from replication_ladder.data.sites import treatment_design

    data = study()
    data.loc[[0, 2], "treated"] = 1  # two of nine participants now in both
    with pytest.raises(DataError, match=r"neither a between- nor a within-participant design"):
        treatment_design(data, "uid", "treated", "site")


PAIRED_ESCALC = """
library(metafor)
d <- read.csv("{path}")
mc <- escalc("MC", m1i = mean_treatment, sd1i = sd_treatment, m2i = mean_control,
             sd2i = sd_control, ri = correlation, ni = n_treatment, data = d)
dz <- escalc("SMCC", m1i = mean_treatment, sd1i = sd_treatment, m2i = mean_control,
             sd2i = sd_control, ri = correlation, ni = n_treatment, data = d)
dav <- escalc("SMCR", m1i = mean_treatment, sd1i = sqrt((sd_treatment^2 + sd_control^2) / 2),
              m2i = mean_control, ri = correlation, ni = n_treatment, data = d)
write.csv(data.frame(mc = mc$yi, mc_v = mc$vi, dz = dz$yi, dz_v = dz$vi, dav = dav$yi,
    dav_v = dav$vi), "{out}", row.names = FALSE)
"""


def test_paired_effect_sizes_match_metafor(tmp_path):
    """escalc's MC (the raw mean change), SMCC (d_z) and SMCR with the conditions' average
    SD as its standardizer (d_av) against ours, effects and variances, on the paired
    study's sites."""
    import shutil
    import subprocess

    from replication_ladder.data import effect_sizes

    cells = participant_means(paired_study(), "site", "uid", "treated", "y", design="within")
    table = per_site_effects(cells, "raw", "within")
    path, out = tmp_path / "sites.csv", tmp_path / "metafor.csv"
    table.to_csv(path, index=False)
    rscript = shutil.which("Rscript")
    assert rscript, "Rscript not found: `make setup-test` installs r-base-core and r-cran-metafor"
    code = PAIRED_ESCALC.format(path=path, out=out)
    subprocess.run([rscript, "-e", code], capture_output=True, text=True, check=True)
    theirs = pd.read_csv(out)
    columns = ("mean_treatment", "sd_treatment", "mean_control", "sd_control")
    pairs = [*(table[c] for c in columns), table["correlation"], table["n_treatment"]]
    for unit, name in (("raw", "mc"), ("dz", "dz"), ("dav", "dav")):
        effect, se = effect_sizes.from_pairs(*pairs, unit)
        np.testing.assert_allclose(effect, theirs[name], rtol=1e-10)
        np.testing.assert_allclose(se**2, theirs[f"{name}_v"], rtol=1e-10)
