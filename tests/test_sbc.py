"""Simulation-based calibration: ranks from fits to outcomes simulated on the real design,
batches that resume where a killed one stopped, and the uniformity test."""

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

from replication_ladder.calibration import sbc, sbc_ranks
from replication_ladder.config import Ladder

from conftest import SMOKE, config_copy


def linear_spec(replicates=4, batch_size=3, **sampling) -> dict:
    config = config_copy()
    config["sbc"] |= {
        "replicates": replicates,
        "batch_size": batch_size,
        "draws": 100,
        "tune": 100,
        "chains": 2,
    }
    config["sbc"]["datasets"] = ["linear"]
    spec = Ladder(config).sbc_spec("linear", "linear")
    spec["sampling"] |= sampling
    return spec


def linear_data() -> pd.DataFrame:
    from replication_ladder.data.synthetic import generate

    return generate(config_copy()["datasets"]["linear"]["source"]).data


def test_a_batch_ranks_every_parameter_of_its_replicates(tmp_path):
    spec = linear_spec()
    table = sbc.run_batch(spec, linear_data(), batch=0, kept=tmp_path / "p", cores=1)
    assert list(table["replicate"]) == [0, 1, 2]
    parameters = [c for c in table.columns if c not in sbc.META]
    assert set(parameters) == {"Intercept", "X", "sigma"}  # the model's own variables
    assert (table[parameters] >= 0).all().all()
    assert (table[parameters].to_numpy() <= table["draws_ranked"].to_numpy()[:, None]).all()
    last = sbc.run_batch(spec, linear_data(), batch=1, kept=tmp_path / "p1", cores=1)
    assert list(last["replicate"]) == [3]  # the last batch holds what is left


def test_replicates_do_not_depend_on_the_batching(tmp_path):
    """Prior draws come from one seed and each fit has its own: replicate 2 is the same
    whether it ran in a batch of 3 or of 1."""
    in_three = sbc.run_batch(linear_spec(batch_size=3), linear_data(), 0, tmp_path / "a", cores=1)
    alone = sbc.run_batch(linear_spec(batch_size=1), linear_data(), 2, tmp_path / "b", cores=1)
    pd.testing.assert_series_equal(
        in_three.set_index("replicate").loc[2],
        alone.set_index("replicate").loc[2],
        check_names=False,
    )


def test_a_killed_batch_resumes_without_redoing_finished_replicates(tmp_path, monkeypatch):
    spec = linear_spec(replicates=3, batch_size=3)
    progress = tmp_path / "progress"
    calls = []
    real = sbc.replicate_ranks

    def dies_on_the_third(rung, compiled, truth, observed, seed, cores, **kwargs):
        calls.append(seed)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the job is killed half-way
        return real(rung, compiled, truth, observed, seed, cores, **kwargs)

    def counted(rung, compiled, truth, observed, seed, cores, **kwargs):
        calls.append(seed)
        return real(rung, compiled, truth, observed, seed, cores, **kwargs)

    monkeypatch.setattr(sbc, "replicate_ranks", dies_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        sbc.run_batch(spec, linear_data(), 0, progress, cores=1)
    assert sorted(p.name for p in progress.iterdir()) == ["replicate0.json", "replicate1.json"]
    calls.clear()
    monkeypatch.setattr(sbc, "replicate_ranks", counted)
    resumed = sbc.run_batch(spec, linear_data(), 0, progress, cores=1)
    assert list(resumed["replicate"]) == [0, 1, 2]
    assert len(calls) == 1  # only the third was fitted
    # A changed setting, or changed code or data (the job's input files), makes the kept
    # replicates stale: they are redone, not reused.
    record = json.loads((progress / "replicate0.json").read_text())
    other = linear_spec(replicates=3, batch_size=3, target_accept=0.95)
    assert sbc.progress_key(other, "") != record["key_sha256"]
    calls.clear()
    sbc.run_batch(spec, linear_data(), 0, progress, cores=1, sources_sha256="edited code")
    assert len(calls) == 3


def ranks_table(parameters: dict, **bookkeeping) -> pd.DataFrame:
    """A ranks table as the stage writes it: each replicate's bookkeeping (mixed chains,
    no divergences, 99 draws ranked, unless given) and the rank of each parameter."""
    replicates = len(next(iter(parameters.values())))
    defaults = {
        "replicate": np.arange(replicates),
        "draws_ranked": 99,
        "divergences": 0,
        "max_r_hat": 1.0,
        "min_ess_bulk": 100.0,
    }
    return pd.DataFrame(defaults | bookkeeping | parameters)


def test_uniformity_flags_ranks_piled_at_one_end():
    rng = np.random.default_rng(0)
    n, draws = 200, 99
    ranks = ranks_table(
        {
            "calibrated": rng.integers(0, draws + 1, n),
            "biased": np.minimum(rng.integers(0, draws + 1, n), rng.integers(0, draws + 1, n)),
        },
        draws_ranked=draws,
    )
    result = sbc_ranks.uniformity(ranks, seed=1, max_r_hat=1.01)
    assert result["miscalibrated"] == ["biased"]
    assert result["parameters"]["calibrated"] > 0.01


def test_replicates_whose_chains_did_not_mix_are_counted():
    """Counted against the config's R-hat line, as every fit is judged: two of the four
    replicates below are above 1.01 (counted by hand), one diverged."""
    ranks = ranks_table(
        {"a": [10, 40, 70, 90]}, divergences=[0, 0, 3, 0], max_r_hat=[1.0, 1.01, 1.02, 2.5]
    )
    result = sbc_ranks.uniformity(ranks, seed=1, max_r_hat=1.01)
    assert result["unconverged_replicates"] == 2 and result["divergent_replicates"] == 1
    assert result["median_max_r_hat"] == pytest.approx(1.015)
    assert sbc_ranks.uniformity(ranks, seed=1, max_r_hat=3.0)["unconverged_replicates"] == 0


def test_the_verdicts_parameters_are_tested_apart_from_thousands_of_levels():
    """The effect's ranks piled up (p about 1e-4) among 2,000 calibrated per-level
    effects: Bonferroni over all 2,002 (a bound of 5e-6) let it through; within the
    verdict's family of two it is flagged, and each level is held to its own family."""
    rng = np.random.default_rng(5)
    n, draws = 60, 99
    levels = {f"1|study[{k}]": rng.integers(0, draws + 1, n) for k in range(2000)}
    piled = np.minimum(rng.integers(0, draws + 1, n), rng.integers(0, draws + 1, n))
    ranks = ranks_table(
        {"condition": piled, "condition|study_sigma": rng.integers(0, draws + 1, n), **levels},
        draws_ranked=draws,
    )
    result = sbc_ranks.uniformity(
        ranks, seed=1, max_r_hat=1.01, treatment="condition", site="study"
    )
    p = result["parameters"]["condition"]
    print(f"margin: the effect's p {p:.2g}, between 5e-6 and 0.005")
    assert 0.01 / 2002 < p < 0.01 / 2
    assert result["families"]["verdict"]["miscalibrated"] == ["condition"]
    assert result["families"]["levels"]["bonferroni_bound"] == pytest.approx(0.01 / 2000)
    assert "condition" in result["miscalibrated"]


def exact_bayes_factor_replicates(n: int, seed: int, inflate: float = 1.0) -> pd.DataFrame:
    """A normal model y ~ N(theta, 0.3), theta ~ N(0, 1) under H1 and 0 under H0, n
    replicates of each with the exact log BF10 (a ratio of normal densities of y) times
    `inflate`: calibrated at 1 (the identity Schad et al. check), not otherwise."""
    rng = np.random.default_rng(seed)
    se = 0.3
    theta = np.r_[rng.normal(0, 1, n), np.zeros(n)]
    y = rng.normal(theta, se)
    log_bf10 = stats.norm.logpdf(y, 0, np.hypot(se, 1)) - stats.norm.logpdf(y, 0, se)
    return pd.DataFrame(
        {
            "replicate": np.r_[np.arange(n), np.arange(n)],
            "hypothesis": ["H1"] * n + ["H0"] * n,
            "log_bf10": inflate * log_bf10,
            "bf_reliable": True,
        }
    )


def test_exact_bayes_factors_are_calibrated_and_inflated_ones_are_not():
    """Closed form: the data-averaged posterior probability of H1 is its prior share
    (a half) for exact Bayes factors, within Monte Carlo error; Bayes factors three times
    too large on the log scale overstate H1 and are flagged."""
    exact = sbc_ranks.bayes_factor_calibration(exact_bayes_factor_replicates(400, 2))
    print(f"margin: mean P(H1 | y) {exact['mean_p_h1']:.3f}, z = {exact['z']:.2f} (|z| < 2.58)")
    assert exact["calibrated"] and exact["share_from_h1"] == 0.5
    assert exact["mean_p_h1_given"]["H1"] > 0.5 > exact["mean_p_h1_given"]["H0"]
    for row in exact["bins"]:  # within each bin, as many from H1 as P(H1 | y) says
        assert abs(row["share_from_h1"] - row["mean_p_h1"]) < 0.15
    inflated = sbc_ranks.bayes_factor_calibration(exact_bayes_factor_replicates(400, 2, 3.0))
    assert not inflated["calibrated"]


def test_the_calibration_figure_draws_the_bins_and_both_hypotheses():
    """The report's figure: a point per bin at (mean P, share from H1), the diagonal, and
    one histogram of log BF10 per hypothesis; the sentence says calibrated."""
    from replication_ladder.report import figures
    from replication_ladder.report.html import bayes_factor_calibration

    table = exact_bayes_factor_replicates(200, 3)
    calibration = sbc_ranks.bayes_factor_calibration(table)
    fig = figures.bayes_factor_calibration(calibration, table)
    left, right = fig.axes
    (points,) = left.collections
    np.testing.assert_allclose(
        points.get_offsets(), [[b["mean_p_h1"], b["share_from_h1"]] for b in calibration["bins"]]
    )
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["H0", "H1"]
    assert "The Bayes factors are calibrated" in bayes_factor_calibration(calibration)


@pytest.mark.sampling
def test_the_meta_analysis_rungs_bayes_factors_are_calibrated(tmp_path):
    """The multisite meta-analysis rung, its 10 sites' estimates from the generator: 40
    replicates from its prior and 40 with the effect at zero, each fitted and its
    Savage-Dickey BF10 computed as the verdict does; the mean P(H1 | y) is within 2.58
    Monte Carlo errors of a half, and the H1 replicates' ranks are uniform."""
    from replication_ladder.data.sites import participant_means, per_site_effects
    from replication_ladder.data.synthetic import generate

    config = config_copy()
    config["sbc"] |= {"replicates": 40, "batch_size": 40, "datasets": ["multisite"]}
    config["datasets"]["multisite"]["source"]["params"] |= {"sites": 10, "participants": 30}
    ladder = Ladder(config)
    spec = ladder.sbc_spec("multisite", "meta_analysis")
    spec["sampling"] |= {"draws": 1000, "tune": 500, "chains": 2}
    data = generate(ladder.dataset("multisite")["source"]).data
    sites = per_site_effects(participant_means(data, "study", "uid", "condition", "value"))
    table = sbc.run_batch(spec, sites.rename(columns={"study": "site"}), 0, tmp_path / "p", 2)
    assert set(table["hypothesis"]) == {"H1", "H0"} and table["log_bf10"].notna().all()
    calibration = sbc_ranks.bayes_factor_calibration(table)
    print(f"margin: mean P(H1 | y) {calibration['mean_p_h1']:.3f} z = {calibration['z']:.2f}")
    assert calibration["calibrated"], calibration
    uniform = sbc_ranks.uniformity(table, 3, 1.01, "condition", "study")
    assert uniform["replicates"] == 40 and not uniform["families"]["verdict"]["miscalibrated"]


@pytest.mark.sampling
def test_a_calibrated_model_gives_uniform_ranks(tmp_path):
    """The linear rung with enough replicates to test (60) and draws to rank (4 x 250,
    thinned to about its ESS): no parameter fails the uniformity test at the Bonferroni
    level (a false alarm has probability under 1%)."""
    spec = linear_spec(replicates=60, batch_size=60, draws=250, chains=4)
    table = sbc.run_batch(spec, linear_data(), 0, tmp_path / "p", cores=2)
    result = sbc_ranks.uniformity(table, seed=3, max_r_hat=1.01)
    print(f"margin: uniformity {result}")
    assert result["replicates"] == 60 and not result["miscalibrated"], result


def test_sbc_settings_come_from_the_config():
    config = config_copy()
    ladder = Ladder(config)
    assert ("rrr", "ordinal") in ladder.sbc_fits() and (
        "multisite",
        "participant",
    ) in ladder.sbc_fits()
    for dataset, model in ladder.sbc_fits():  # each rung calibrated as it is fitted
        fitted = ladder.model_spec(dataset, model)["sampling"]
        assert ladder.sbc_spec(dataset, model)["sampling"] == fitted, (dataset, model)
    for model in ("participant", "ordinal"):  # the lab slopes' ridge (docs/calibration.md)
        sampling = ladder.sbc_spec("rrr", model)["sampling"]
        assert (sampling["draws"], sampling["thin"]) == (4000, 2), model
    assert ladder.sbc_batches() == 2
    config["sbc"] |= {"draws": 50, "chains": 2}
    overridden = Ladder(config).sbc_spec("rrr", "participant")["sampling"]
    assert (overridden["draws"], overridden["chains"], overridden["tune"]) == (50, 2, 1000)
    config["preset"] = "sbc"
    assert Ladder(config).sbc()["replicates"] == 500 and SMOKE["chains"] == 2


def test_the_uniformity_test_runs_in_a_fresh_process():
    """A job imports only what its module imports: ArviZ's accessor must be registered by
    the calibration's own code, not by an import some other test made first."""
    import subprocess
    import sys

    code = (
        "import numpy as np, pandas as pd\n"
        "from replication_ladder.calibration import sbc_ranks\n"
        "ranks = pd.DataFrame({'replicate': range(20), 'draws_ranked': 99, 'divergences': 0,\n"
        "    'max_r_hat': 1.0, 'min_ess_bulk': 100.0, 'a': np.arange(0, 100, 5)})\n"
        "print(sbc_ranks.uniformity(ranks, seed=1, max_r_hat=1.01)['parameters']['a'])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert 0 <= float(result.stdout) <= 1


def test_the_pit_ecdf_figure_draws_from_ranks():
    """The report's figure (arviz-plots' plot_ecdf_pit) from a ranks table as the stage
    writes it: it must draw, one panel per parameter (its "envelope" method failed here)."""
    from replication_ladder.report import figures
    from replication_ladder.report.calibration import ranks_tree

    ranks = ranks_table({"a": np.arange(0, 100, 5), "b": np.arange(99, -1, -5)})
    figure = figures.sbc_ecdf(ranks_tree(ranks, ["a", "b"]), ["a", "b"])
    assert len([ax for ax in figure.axes if ax.has_data()]) == 2


def test_the_report_warns_when_chains_did_not_mix():
    """A rung whose replicates' chains did not mix gets a warning, and its uniform ranks
    are not shown as a pass; a rung whose chains all mixed gets none."""
    from replication_ladder.report.calibration import CalibrationReport

    ranks = ranks_table({"a": np.arange(0, 100, 5)}, max_r_hat=[1.0] * 17 + [1.5, 2.0, 2.5])
    unmixed = sbc_ranks.uniformity(ranks, seed=1, max_r_hat=1.01)
    mixed = sbc_ranks.uniformity(ranks, seed=1, max_r_hat=3.0)
    warning = CalibrationReport.mixing_summary(unmixed)
    assert "ladder-warning" in warning and "R-hat above 1.01 in 3 of 20 replicates" in warning
    assert 'class="ladder-note"' in CalibrationReport.uniformity_summary(unmixed)
    assert CalibrationReport.mixing_summary(mixed) == ""
    assert 'class="ladder-ok"' in CalibrationReport.uniformity_summary(mixed)


def test_the_overview_counts_each_rung_from_its_files(tmp_path):
    """The report's overview row of a rung, from a ranks table and its uniformity test as
    the stage writes them: the counts match a hand count, and overview.csv holds them."""
    from replication_ladder.report.calibration import CalibrationReport

    ranks = ranks_table(
        {"a": np.arange(0, 100, 5)},
        draws_ranked=[99] * 15 + [199] * 5,
        divergences=[0] * 19 + [3],
        max_r_hat=[1.0] * 18 + [1.5, 2.0],
    )
    ranks.to_parquet(tmp_path / "ranks.parquet")
    test = sbc_ranks.uniformity(ranks, seed=1, max_r_hat=1.01)
    (tmp_path / "uniformity.json").write_text(json.dumps(test))
    inputs = {
        "rrr/fixed": {
            "ranks": tmp_path / "ranks.parquet",
            "uniformity": tmp_path / "uniformity.json",
        }
    }
    row = CalibrationReport(inputs, tmp_path / "figures").overview().loc["rrr/fixed"]
    assert row["replicates"] == 20 and row["parameters"] == 1
    assert row["replicates not converged (R-hat)"] == 2
    assert row["replicates with divergences"] == 1 and row["draws ranked"] == 99
    written = pd.read_csv(tmp_path / "figures/overview.csv", index_col=0)
    assert written.loc["rrr/fixed", "replicates not converged (R-hat)"] == 2


@pytest.mark.sampling
@pytest.mark.parametrize(
    ("model", "formula"),
    [
        ("ordinal", "rating ~ condition + (1|study)"),
        ("random_slope", "value ~ condition + age + (condition|study)"),
    ],
)
def test_prior_draws_are_the_fitted_prior(model, formula):
    """SBC's replicates come from exactly the prior the rung is fitted with, checked
    against another sampler of it: NUTS on the same compiled model given no rows (its
    posterior is then its prior, transforms and Jacobians included). Every scalar
    parameter's marginal must pass a two-sample KS test (p > 0.001, 400 draws each, NUTS
    thinned to about independent). pm.sample_prior_predictive ignores the ordered
    transform: its thresholds come out unsorted, with marginals narrower than the fitted
    prior's at both ends (first threshold: mean -2.0 against -2.75 under Bambi's default
    thresholds), which this test rejects."""
    from scipy import stats
    from test_rungs import small_multisite, spec_of

    from replication_ladder.models.kinds import build_rung
    from replication_ladder.models.samplers import compile_rung

    data = small_multisite()
    data["rating"] = np.clip(np.round(data["value"]), 0, 9).astype(int)
    dataset = "rrr" if model == "ordinal" else "multisite"
    spec = spec_of(dataset, model, formula=formula)
    rung = build_rung(spec, data)
    prior, outcomes = sbc.prior_simulations(rung, 400, seed=11)
    assert outcomes.shape == (400, len(data))
    if model == "ordinal":
        assert (np.diff(prior["threshold"].values, axis=1) > 0).all()
    sampling = {**spec["sampling"], "draws": 1000, "tune": 1000, "chains": 2}
    compiled = compile_rung(rung, sampling)
    nuts = compiled.sample(5, 2, data=rung.rows(index=np.array([], dtype=int)))
    reference = nuts["posterior"].to_dataset().isel(draw=slice(None, None, 5))
    checked = []
    for name in sbc.ranked_parameters(rung):
        if name not in reference or "__factor_dim" in " ".join(map(str, prior[name].dims)):
            continue  # per-level effects are exchangeable: their SD is checked instead
        ours = prior[name].values.reshape(400, -1)
        theirs = reference[name].values.reshape(-1, ours.shape[1])
        for column in range(ours.shape[1]):
            p_value = stats.ks_2samp(ours[:, column], theirs[:, column]).pvalue
            checked.append(name)
            print(f"margin: {name}[{column}] KS p = {p_value:.3f} (> 0.001)")
            assert p_value > 0.001, f"{name}[{column}]"
    assert len(checked) >= 3


@pytest.mark.sampling
def test_the_summary_level_random_effects_rung_is_calibrated(tmp_path):
    """SBC of rrr_labs's random-effects meta-analysis on 17 sites' summaries (its stated
    priors and sampler, effects simulated from them with the sites' standard errors): 100
    replicates of 4 x 1,000 draws, no parameter fails the uniformity test, and at most
    one replicate's largest R-hat over its 19 parameters crosses the fits' 1.01 line
    (issue 28's goal for `make sbc`; 0 of 100 when measured)."""
    from summary_exports import random_sites

    from replication_ladder.data.effect_sizes import from_arms

    config = config_copy()
    config["sbc"] |= {"replicates": 100, "batch_size": 100, "draws": 1000, "tune": 500}
    # The ranks alone: the Bayes factors' calibration has a test of its own (above).
    config["sbc"] |= {"chains": 4, "datasets": ["rrr_labs"], "bayes_factor": False}
    spec = Ladder(config).sbc_spec("rrr_labs", "random_effects")
    sites = random_sites(17, seed=9)
    arms = [sites[f"{s}_treatment"] for s in ("mean", "sd", "n")]
    arms += [sites[f"{s}_control"] for s in ("mean", "sd", "n")]
    sites["effect"], sites["se"] = from_arms(*arms, "raw")
    sites["site"] = pd.Categorical(sites["site"])
    sites["outcome_sd"] = 1.6
    table = sbc.run_batch(spec, sites, 0, tmp_path / "p", cores=2)
    result = sbc_ranks.uniformity(table, seed=3, max_r_hat=1.01)
    print(f"margin: uniformity {result}")
    assert result["replicates"] == 100 and not result["miscalibrated"], result
    assert result["unconverged_replicates"] <= 1 and result["divergent_replicates"] <= 2, result


def test_draws_are_thinned_by_arviz_to_about_their_bulk_ess():
    """Independent draws (ESS about the number of draws) are all kept; an AR(1) chain
    with rho 0.9 (ESS about n(1 - rho)/(1 + rho), a twentieth of the draws, closed form)
    is cut to about that, every k-th draw of each chain, never below 50 draws."""
    rng = np.random.default_rng(3)
    independent = xr.Dataset({"mu": (("chain", "draw"), rng.normal(size=(2, 1000)))})
    kept, ess = sbc.thinned(independent, ["mu"])
    assert kept.sizes["sample"] == 2000 and ess > 1500
    walk = np.zeros((2, 4000))
    for t in range(1, 4000):
        walk[:, t] = 0.9 * walk[:, t - 1] + rng.normal(size=2)
    correlated = xr.Dataset({"mu": (("chain", "draw"), walk)})
    kept, ess = sbc.thinned(correlated, ["mu"])
    assert 200 < ess < 850  # 8000 / 19 = 421
    step = 8000 // int(ess)
    np.testing.assert_array_equal(kept["mu"].values, walk[:, ::step].reshape(-1))
    tiny = correlated.isel(draw=slice(0, 60))
    assert sbc.thinned(tiny, ["mu"])[0].sizes["sample"] >= 50


FAMILY_DATA = {  # an outcome each family models, and the range its priors follow
    "gaussian": (lambda rng, n: rng.normal(5, 2, n), [0, 10]),
    "t": (lambda rng, n: rng.standard_t(4, n) + 5, [0, 10]),
    "lognormal": (lambda rng, n: rng.lognormal(0.5, 0.5, n), [0.2, 20]),
    "poisson": (lambda rng, n: rng.poisson(4, n), [0, 30]),
    "negativebinomial": (lambda rng, n: rng.negative_binomial(3, 0.4, n), [0, 30]),
    "bernoulli": (lambda rng, n: rng.integers(0, 2, n), None),
    "beta": (lambda rng, n: rng.beta(3, 4, n), None),
    "cumulative": (lambda rng, n: rng.integers(1, 6, n), [1, 5]),
}


@pytest.mark.sampling
@pytest.mark.parametrize("family", list(FAMILY_DATA))
def test_every_familys_default_priors_pass_sbc(family, tmp_path):
    """A two-group rung of each family with nothing but its default priors (the
    registry's rule), 30 replicates from them fitted with nutpie: the verdict's effect and
    every scalar rank uniformly (Bonferroni within each family of parameters), and no
    replicate diverges."""
    rng = np.random.default_rng(11)
    draw, bounds = FAMILY_DATA[family]
    n = 80
    data = pd.DataFrame({"x": np.repeat([0, 1], n // 2), "y": draw(rng, n)})
    if family == "cumulative":
        data["y"] = pd.Categorical(data["y"], ordered=True)
    config = config_copy()
    config["default_datasets"] = False
    config["datasets"] = {
        "mine": {
            "source": {"path": "data/mine.csv"},
            "columns": {
                "y": "integer" if family in ("poisson", "negativebinomial") else "number",
                "x": "binary",
            },
            "outcome": {"range": bounds},
            "replication": {"treatment": "x", "contrast": [0, 1], "original": {"effect": 0.5}},
            "models": {"one": {"formula": "y ~ x", "family": family}},
        }
    }
    config["sbc"] |= {
        "datasets": ["mine"],
        "replicates": 30,
        "batch_size": 30,
        "bayes_factor": False,
    }
    spec = Ladder(config).sbc_spec("mine", "one")
    spec["sampling"] |= {"sampler": "nutpie", "draws": 400, "tune": 400, "chains": 2}
    table = sbc.run_batch(spec, data, 0, tmp_path / "p", cores=2)
    result = sbc_ranks.uniformity(table, seed=5, max_r_hat=1.05, treatment="x")
    print(f"margin: {family}: {result['parameters']}")
    assert not result["miscalibrated"], result
    assert result["divergent_replicates"] == 0
