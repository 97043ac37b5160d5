"""Rungs behind one interface: built once, refitted on other rows or outcomes without being
compiled again, giving the draws a fresh compile gives; log densities equal to Bambi's
and PyMC's own; priors as used."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from replication_ladder.base.errors import ModelError
from replication_ladder.config import Ladder
from replication_ladder.models.densities import Densities
from replication_ladder.models.kinds import build_rung
from replication_ladder.models.prior_spec import Prior
from replication_ladder.models.samplers import compile_rung, thinned

from conftest import SMOKE, config_copy

LADDER = Ladder(config_copy())


def small_multisite(sites: int = 4, participants: int = 12) -> pd.DataFrame:
    from replication_ladder.data.synthetic import generate

    source = LADDER.dataset("multisite")["source"]
    source = {
        **source,
        "params": {**source["params"], "sites": sites, "participants": participants},
    }
    data = generate(source).data
    for column in ("study", "uid", "stimulus"):
        data[column] = pd.Categorical(data[column].astype(str))
    return data


def spec_of(dataset: str, model: str, **changes) -> dict:
    spec = LADDER.model_spec(dataset, model)
    spec["sampling"] = {**spec["sampling"], **SMOKE}
    spec.update(changes)
    return spec


def test_row_data_live_in_shared_containers():
    data = small_multisite()
    rung = build_rung(spec_of("multisite", "participant"), data)
    assert rung.n_rows == len(data)
    assert all(len(v) == len(data) for v in rung.full_rows.values())
    assert rung.observed_data_name in rung.full_rows
    np.testing.assert_array_equal(rung.full_rows[rung.observed_data_name], data["value"])
    half = rung.rows(np.arange(0, len(data), 2))
    assert all(len(v) == (len(data) + 1) // 2 for k, v in half.items() if k in rung.full_rows)


def test_a_rung_keeps_no_dense_group_design_and_predicts_as_bambi_does(monkeypatch):
    """Formulae's one-hot of each grouping factor (rows x levels) is released once Bambi
    has its index; Bambi's predictions for new rows are those of the same model built
    with it kept (the same draws, to 1e-12)."""
    from replication_ladder.models.kinds import bambi_formula

    data = small_multisite()
    spec = spec_of("multisite", "participant")
    rung = build_rung(spec, data)
    terms = [
        term
        for component in rung.bambi_model.parameters.values()
        if getattr(component, "design", None) is not None and component.design.group
        for term in component.design.group.terms.values()
    ]
    assert {term.name for term in terms} >= {"1|uid", "1|study"}
    assert all(term.factor.data is None for term in terms)
    monkeypatch.setattr(bambi_formula, "_release_group_one_hots", lambda model: None)
    kept = build_rung(spec, data)
    raw = compile_rung(rung, spec["sampling"]).sample(2, 1)
    posterior = xr.DataTree.from_dict({"posterior": rung.finish(raw)["posterior"].to_dataset()})
    rows = data.iloc[::-5]  # new rows: a fifth of them, in another order
    ours, _ = rung.predict(posterior, rows, seed=3)
    theirs, _ = kept.predict(posterior, rows, seed=3)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_group_levels_computed_after_thinning_are_the_samplers_own(monkeypatch):
    """The levels of a group term (offsets times their SD) computed from the kept draws
    against the same rung with the sampler storing them itself: the same variables in
    the same order, the same numbers bit for bit, the same dims and coordinates."""
    from replication_ladder.models import samplers

    data = small_multisite()
    spec = spec_of("multisite", "participant")
    spec["sampling"] = {**spec["sampling"], "sampler": "nutpie", "thin": 2}
    rung = build_rung(spec, data)
    compiled = compile_rung(rung, spec["sampling"])
    assert {"1|uid", "condition|study"} <= set(compiled.derived)  # 1|study is sampled centred
    assert not set(compiled.derived) & set(compiled.sampled)
    ours = compiled.sample(5, 1)["posterior"].to_dataset()
    monkeypatch.setattr(samplers, "split_stored", lambda rung: (rung.stored_variables, []))
    theirs = compile_rung(rung, spec["sampling"]).sample(5, 1)["posterior"].to_dataset()
    assert list(ours.data_vars) == list(theirs.data_vars) == rung.stored_variables
    xr.testing.assert_identical(ours.drop_attrs(), theirs.drop_attrs())


# PyMC's own sampler compiles C code, about 90 s on a cold cache: not for the quick tier.
@pytest.mark.parametrize("sampler", ["nutpie", pytest.param("pymc", marks=pytest.mark.sampling)])
def test_a_refit_with_swapped_rows_draws_what_a_fresh_compile_draws(sampler):
    """The same model structure, compiled once and given other rows, against the model
    compiled afresh with those rows from the start: the same seed, the same draws."""
    data = small_multisite()
    spec = spec_of(
        "multisite", "random_slope", sampling={**SMOKE, "sampler": sampler, "target_accept": 0.9}
    )
    keep = np.flatnonzero(data["study"].astype(str) != "1")
    compiled = compile_rung(build_rung(spec, data), spec["sampling"])
    compiled.sample(7, 1)  # a first fit on every row, as a job's first refit follows one
    swapped = compiled.sample(11, 1, data=compiled.rung.rows(keep))

    fresh_rung = build_rung(spec, data)
    fresh = compile_rung(fresh_rung, spec["sampling"], data=fresh_rung.rows(keep)).sample(11, 1)
    for name in swapped["posterior"].data_vars:
        np.testing.assert_array_equal(
            swapped["posterior"][name].values, fresh["posterior"][name].values
        )


@pytest.mark.parametrize("sampler", ["nutpie", pytest.param("pymc", marks=pytest.mark.sampling)])
def test_the_draws_do_not_depend_on_the_threads(sampler):
    """A fit's threads are a scheduling choice (the workflow gives a light rung one): its
    chains sampled one after another draw exactly what they draw side by side."""
    data = small_multisite()
    sampling = {**SMOKE, "sampler": sampler, "target_accept": 0.9}
    spec = spec_of("multisite", "random_slope", sampling=sampling)
    compiled = compile_rung(build_rung(spec, data), spec["sampling"])
    one, two = compiled.sample(5, 1), compiled.sample(5, 2)
    assert one["posterior"].sizes["chain"] == SMOKE["chains"] > 1
    for name in one["posterior"].data_vars:
        np.testing.assert_array_equal(one["posterior"][name].values, two["posterior"][name].values)


def test_a_simulated_outcome_swaps_in_too():
    data = small_multisite()
    spec = spec_of("multisite", "fixed")
    rung = build_rung(spec, data)
    compiled = compile_rung(rung, spec["sampling"])
    before = compiled.sample(3, 1)["posterior"]["Intercept"].mean()
    shifted = compiled.sample(3, 1, data=rung.rows(observed=data["value"].to_numpy() + 10))
    # The model saw the new outcome: its intercept moves by about the shift.
    assert abs(shifted["posterior"]["Intercept"].mean() - before - 10) < 1.5


@pytest.mark.parametrize(
    ("formula", "family"),
    [
        ("value ~ condition + age + (condition|study)", "gaussian"),
        ("gender ~ age + condition + (1|study)", "bernoulli"),
        ("value ~ condition + C(stimulus) + (1|uid)", "gaussian"),
        ("value ~ condition + (1|study)", "gaussian"),
        ("rating ~ condition + (1|study)", "cumulative"),
    ],
)
def test_log_likelihood_equals_bambis(formula, family, tmp_path):
    """Our vectorised log-likelihood (every fit's) against Bambi's compute_log_likelihood,
    which for the cumulative family is Bambi's own: a Categorical of all K category
    probabilities (ours takes the two thresholds each row needs, ordered_logit.py). A fit
    writes each value as float32 (to float32's precision, 1e-6 relative) and their sum
    per draw in float64 (1e-9 relative)."""
    from replication_ladder.models.fit import with_densities

    data = small_multisite()
    data["rating"] = np.clip(np.round(data["value"]), 0, 9).astype(int)
    spec = spec_of("multisite", "fixed", formula=formula, family=family, priors={})
    rung = build_rung(spec, data)
    raw = compile_rung(rung, spec["sampling"]).sample(1, 1)
    ours = Densities(rung).log_likelihood(raw["posterior"].to_dataset())
    idata, _ = with_densities(rung, raw, tmp_path / "posterior.nc")
    response = formula.split(" ~")[0]
    theirs = rung.bambi_model.compute_log_likelihood(
        xr.DataTree.from_dict({"posterior": idata["posterior"].to_dataset()}), inplace=False
    )
    theirs = theirs["log_likelihood"][response].values
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)
    with xr.open_datatree(tmp_path / "posterior.nc", engine="h5netcdf") as written:
        stored = written["log_likelihood"][response].values
    assert stored.dtype == np.float32
    np.testing.assert_allclose(stored, theirs, rtol=1e-6, atol=1e-6)
    totals = idata["log_likelihood_total"]["total"].values
    np.testing.assert_allclose(totals, theirs.sum(axis=-1), rtol=1e-9)


def test_held_out_rows_are_scored_with_their_own_data():
    """The log-likelihood of a subset of rows equals those rows' part of the full one."""
    data = small_multisite()
    spec = spec_of("multisite", "random_intercept")
    rung = build_rung(spec, data)
    raw = compile_rung(rung, spec["sampling"]).sample(5, 1)
    densities = Densities(rung)
    posterior = raw["posterior"].to_dataset()
    full = densities.log_likelihood(posterior)
    held_out = np.array([3, 10, 11, 40])
    part = densities.log_likelihood(posterior, rows=rung.rows(held_out))
    np.testing.assert_allclose(part, full[..., held_out], rtol=0, atol=1e-12)


def test_pymc_log_likelihood_and_prior_equal_pymcs_own():
    """Against pm.compute_log_likelihood and pm.stats.compute_log_prior, for the hand-written
    measurement-error model."""
    import pymc as pm

    from replication_ladder.data.synthetic import generate

    data = generate(LADDER.dataset("measurement_error")["source"]).data
    spec = spec_of("measurement_error", "measurement_error")
    rung = build_rung(spec, data)
    raw = compile_rung(rung, spec["sampling"]).sample(3, 1)
    posterior = raw["posterior"].to_dataset()
    densities = Densities(rung)
    theirs = pm.compute_log_likelihood(
        raw, model=rung.model, extend_inferencedata=False, progressbar=False
    )
    np.testing.assert_allclose(
        densities.log_likelihood(posterior), theirs["share"].values, atol=1e-10
    )
    prior = pm.stats.compute_log_prior(
        raw, model=rung.model, extend_inferencedata=False, progressbar=False
    )
    ours = densities.log_prior(posterior)
    for name in ("m", "b", "sigma"):
        expected = prior[name].values.reshape(*prior[name].shape[:2], -1).sum(axis=-1)
        np.testing.assert_allclose(ours[name], expected, atol=1e-10)


def test_priors_as_used_are_the_stated_and_the_outcome_scale_rules():
    """The custom rung states C(D); its outcome's range ([-20, 30], span 50) gives the
    rest by the rule (outcome_priors.py): no term is left to Bambi's defaults."""
    rng = np.random.default_rng(0)
    data = pd.DataFrame(
        {
            "X": rng.normal(size=50),
            "Y": rng.normal(size=50),
            "D": pd.Categorical(rng.choice(["0", "1"], 50)),
        }
    )
    rung = build_rung(spec_of("categorical", "custom_prior"), data)
    priors = rung.priors()
    assert priors["C(D)"] == {"dist": "Normal", "mu": 0.5, "sigma": 10.0}
    assert priors["sigma"] == {"dist": "HalfNormal", "sigma": 12.0}
    assert priors["Intercept"] == {"dist": "Normal", "mu": 5.0, "sigma": 12.0}
    assert set(priors) == {"Intercept", "X", "C(D)", "sigma"}
    assert "C(D) ~ Normal(mu: 0.5, sigma: 10.0)" in rung.description()


def test_builder_priors_are_config_shaped():
    data = pd.DataFrame(
        {
            "site": ["a", "b", "c"],
            "effect": [0.1, -0.2, 0.05],
            "se": [0.2, 0.3, 0.25],
            "outcome_sd": 1.5,
        }
    )
    stated = build_rung(spec_of("rrr", "meta_analysis"), data)
    assert stated.priors() == {  # config/config.yaml states them on the rating's scale
        "condition": {"dist": "Normal", "mu": 0, "sigma": 1},
        "condition|study_sigma": {"dist": "HalfNormal", "sigma": 0.5},
    }
    scaled = build_rung(spec_of("rrr", "meta_analysis", priors={}), data)
    assert scaled.priors() == {  # none stated: RoBMA's on d, scaled by the SD (1.5)
        "condition": {"dist": "Normal", "mu": 0.0, "sigma": 1.5},
        "condition|study_sigma": {"dist": "InverseGamma", "alpha": 1.0, "beta": 0.15 * 1.5},
    }


def test_an_ordinal_rung_models_the_rating_as_ordered_levels():
    data = small_multisite()
    data["rating"] = np.clip(np.round(data["value"]), 0, 9).astype(int)
    spec = spec_of("rrr", "ordinal", formula="rating ~ condition + (1|study)")
    rung = build_rung(spec, data)
    assert "threshold" in {v.name for v in rung.model.free_RVs}
    assert "cumulative" in rung.description()


def test_the_ordinal_likelihood_is_the_logistic_cdfs_difference_even_far_out():
    """log P(y = k) = log(F(c_k - eta) - F(c_(k-1) - eta)) against a closed form written
    another way (log F(hi) + log(1 - F(lo) / F(hi)), SciPy's log_expit), on the first,
    a middle and the last category, and where both thresholds are far above the
    linear predictor: there the difference of two CDFs near 1 (Bambi's form) is 0."""
    import pytensor.tensor as pt
    from scipy.special import log_expit

    from replication_ladder.models.ordered_logit import _log_probability

    cut = np.array([[-1.0, 0.5, 2.0], [-1.0, 0.5, 2.0], [-1.0, 0.5, 2.0], [40.0, 45.0, 50.0]])
    value = np.array([0, 2, 3, 1])
    ours = _log_probability(pt.as_tensor(value), pt.as_tensor(cut)).eval()
    hi = np.array([cut[0, 0], cut[1, 2], np.inf, -cut[3, 0]])
    lo = np.array([-np.inf, cut[1, 1], cut[2, 2], -cut[3, 1]])
    closed = log_expit(hi) + np.log1p(-np.exp(log_expit(lo) - log_expit(hi)))
    np.testing.assert_allclose(ours, closed, rtol=1e-12)
    assert np.isfinite(ours).all() and ours[3] < -39


def test_the_ordinal_likelihood_is_finite_past_any_open_end():
    """The lowest rating with the linear predictor far above every threshold (and the
    highest far below): log P is log F(c_0 - eta) (log F(-(c_K - eta))), about -(eta - c_0)
    nats, finite with a finite gradient. With the open ends written as +-100, the first
    was NaN once eta passed about 98."""
    import pytensor
    import pytensor.tensor as pt
    from scipy.special import log_expit

    from replication_ladder.models.ordered_logit import _log_probability

    eta = pt.dvector("eta")
    thresholds = np.array([-1.0, 0.5, 2.0])
    value = np.array([0, 0, 3, 3, 1])
    logp = _log_probability(pt.as_tensor(value), pt.as_tensor(thresholds)[None, :] - eta[:, None])
    gradient = pytensor.grad(logp.sum(), eta)
    f = pytensor.function([eta], [logp, gradient])
    at = np.array([150.0, 900.0, -150.0, -900.0, 0.0])
    values, slopes = f(at)
    expected = [
        log_expit(-1 - 150),
        log_expit(-1 - 900),
        log_expit(-(2 + 150)),
        log_expit(-(2 + 900)),
    ]
    np.testing.assert_allclose(values[:4], expected, rtol=1e-12)
    assert np.isfinite(values).all() and np.isfinite(slopes).all()
    np.testing.assert_allclose(slopes[:4], [-1, -1, 1, 1], atol=1e-12)


def test_the_ordinal_likelihood_and_its_gradient_hold_over_any_range():
    """log(F(hi) - F(lo)) and its gradient against SciPy's log_expit form, computed in
    float64 another way (log F(a) + log(1 - F(b) / F(a)) on the side where no CDF is
    near 1), and the logistic density over it: 20,000 pairs of thresholds from -950 to
    950 apart by 0.001 to 30, so that categories thin and wide, in both tails and
    straddling the linear predictor, are all there."""
    import pytensor
    import pytensor.tensor as pt
    from scipy.special import log_expit

    from replication_ladder.models.ordered_logit import _log_cdf_difference

    rng = np.random.default_rng(11)
    lo = rng.uniform(-950, 950, 20_000)
    hi = lo + rng.exponential(3, lo.size) + 1e-3
    upper, lower = pt.dvector("upper"), pt.dvector("lower")
    logp = _log_cdf_difference(upper, lower)
    f = pytensor.function([upper, lower], [logp, *pytensor.grad(logp.sum(), [upper, lower])])
    values, d_hi, d_lo = f(hi, lo)
    a, b = np.where(lo > 0, -lo, hi), np.where(lo > 0, -hi, lo)
    closed = log_expit(a) + np.log1p(-np.exp(log_expit(b) - log_expit(a)))
    np.testing.assert_allclose(values, closed, rtol=1e-12)
    density = lambda x: np.exp(log_expit(x) + log_expit(-x) - closed)  # noqa: E731
    np.testing.assert_allclose(d_hi, density(hi), rtol=1e-10)
    np.testing.assert_allclose(d_lo, -density(lo), rtol=1e-10)


def test_simulated_ratings_follow_the_category_probabilities():
    """The ordinal rung's simulated ratings (prior predictive, SBC) against the category
    probabilities F(c_k - eta) - F(c_(k-1) - eta) computed with SciPy's logistic CDF:
    a chi-square goodness-of-fit test on 20,000 draws of each of two rows (p > 0.001)."""
    from scipy import stats

    from replication_ladder.models.ordered_logit import _draw

    cut = np.array([[-2.0, -0.5, 0.3, 1.5], [-4.0, -3.5, 2.0, 2.1]])
    draws = _draw(np.repeat(cut[None], 20_000, axis=0), rng=np.random.default_rng(5))
    for row, thresholds in enumerate(cut):
        cdf = np.concatenate([[0.0], stats.logistic.cdf(thresholds), [1.0]])
        counts = np.bincount(draws[:, row], minlength=len(cdf) - 1)
        result = stats.chisquare(counts, 20_000 * np.diff(cdf))
        print(f"margin: row {row}, chi-square p {result.pvalue:.3f} (> 0.001)")
        assert result.pvalue > 0.001


def test_an_ordinal_rung_with_an_uncentred_predictor_is_warned_about(caplog):
    """Bambi centres predictors only where an intercept absorbs their means; an ordinal
    family has none, so an age of mean 20 would make the thresholds those of age 0
    (checked against the design matrix's own mean and SD)."""
    data = small_multisite()
    data["rating"] = np.clip(np.round(data["value"]), 0, 9).astype(int)
    data["age"] = 20 + (np.arange(len(data)) % 5)
    uncentred = spec_of("rrr", "ordinal", formula="rating ~ condition + age + (1|study)")
    with caplog.at_level("WARNING", logger="replication_ladder.models.kinds.bambi_formula"):
        build_rung(uncentred, data)
    (message,) = [r.getMessage() for r in caplog.records if "center(" in r.getMessage()]
    assert message.startswith("datasets.rrr.models.ordinal.formula: age has mean 22 and SD 1.41")
    assert "Write center(age) in the formula" in message
    caplog.clear()
    with caplog.at_level("WARNING", logger="replication_ladder.models.kinds.bambi_formula"):
        build_rung(spec_of("rrr", "ordinal", formula="rating ~ center(age)"), data)
        build_rung(spec_of("rrr", "fixed", formula="rating ~ condition + age"), data)
    assert not [r for r in caplog.records if "center(" in r.getMessage()]


def test_bambi_errors_at_build_name_the_model():
    data = pd.DataFrame(
        {"X": [0.1, 0.2, 0.3], "Y": [1.0, 2.0, 3.0], "D": pd.Categorical(["0", "1", "0"])}
    )
    with pytest.raises(
        ModelError,
        match=r"datasets\.categorical\.models\.custom_prior: "
        r"cannot build 'Y ~ nosuchfunction\(X\)'",
    ):
        build_rung(
            spec_of("categorical", "custom_prior", formula="Y ~ nosuchfunction(X)", priors={}), data
        )


HALF_NORMAL = {"dist": "HalfNormal", "sigma": 2.0}


@pytest.mark.parametrize(
    "spec",
    [
        {"dist": "Normal", "mu": 0.0, "sigma": HALF_NORMAL},
        {"dist": "Normal", "mu": 0.0, "sigma": HALF_NORMAL, "noncentered": False},
        {"dist": "ZeroSumNormal", "sigma": HALF_NORMAL},
        {"dist": "ZeroSumNormal", "sigma": HALF_NORMAL, "noncentered": False},
    ],
    ids=["normal", "normal-centred", "zero-sum", "zero-sum-centred"],
)
def test_a_prior_reads_back_from_bambi_as_the_config_wrote_it(spec):
    """What a fit's priors.json records is the config's prior, nested priors and the
    parameterisation (`noncentered: false`) included."""
    prior = Prior(spec).bambi()
    assert prior.name == spec["dist"] and prior.args["sigma"].name == "HalfNormal"
    assert Prior.from_bambi(prior).spec == spec


def test_a_nested_prior_reads_as_text():
    spec = {"dist": "Normal", "mu": 0, "sigma": HALF_NORMAL, "noncentered": False}
    assert Prior(spec).text() == "Normal(mu=0, sigma=HalfNormal(sigma=2))"


def test_a_thinned_fit_keeps_every_other_draw_of_the_same_chains():
    """`sampling.thin: 2` stores draws 0, 2, 4, ... of the very chains an unthinned fit
    with the same seed draws (nutpie, reproducible by seed): checked against that fit."""
    data = small_multisite()
    spec = spec_of("multisite", "fixed")
    rung = build_rung(spec, data)
    every = compile_rung(rung, {**spec["sampling"], "thin": 1}).sample(7, 1)
    kept = compile_rung(rung, {**spec["sampling"], "thin": 2}).sample(7, 1)
    draws = spec["sampling"]["draws"]
    assert kept["posterior"].sizes["draw"] == draws // 2
    for name in ("Intercept", "sigma"):
        np.testing.assert_array_equal(
            kept["posterior"][name].values, every["posterior"][name].values[:, ::2]
        )


def test_thinning_never_drops_a_divergence():
    """A kept draw stands for the draws thinned after it: a divergence among them flags it
    (here at draws the selection drops), and no flag appears where none diverged."""
    diverging = np.zeros((2, 9), dtype=bool)
    diverging[0, 1] = diverging[1, 5] = True
    group = xr.Dataset(
        {
            "x": (("chain", "draw"), np.arange(18.0).reshape(2, 9)),
            "diverging": (("chain", "draw"), diverging),
        },
        coords={"chain": [0, 1], "draw": range(9)},
    )
    kept = thinned(group, 2)
    assert kept["x"].values.tolist() == [[0, 2, 4, 6], [9, 11, 13, 15]]
    assert kept["diverging"].values.tolist() == [
        [True, False, False, False],
        [False, False, True, False],
    ]
    assert list(kept["draw"].values) == [0, 1, 2, 3]


@pytest.mark.parametrize("mass_matrix", ["diag", "low_rank"])
def test_the_mass_matrix_setting_reaches_nutpie(mass_matrix, monkeypatch):
    """`sampling.mass_matrix: low_rank` asks nutpie for its low-rank modified mass
    matrix (which mixes the lab rungs' grand-mean ridge, docs/calibration.md); the
    draws are the sampler's own."""
    import nutpie

    calls = []
    real = nutpie.sample

    def recorded(*args, **kwargs):
        calls.append(kwargs["adaptation"])
        return real(*args, **kwargs)

    monkeypatch.setattr(nutpie, "sample", recorded)
    data = small_multisite()
    spec = spec_of("multisite", "fixed")
    spec["sampling"] = {**spec["sampling"], "sampler": "nutpie", "mass_matrix": mass_matrix}
    rung = build_rung(spec, data)
    draws = compile_rung(rung, spec["sampling"]).sample(1, 1)
    assert calls == [mass_matrix]
    assert draws["posterior"].sizes["draw"] == spec["sampling"]["draws"]


def test_effects_on_the_outcome_taken_a_few_draws_at_a_time_equal_bambis_at_once(
    monkeypatch,
):
    """An ordinal rung's effect on the expected rating, computed a few draws at a time to
    bound its memory, against Bambi's predict on every draw at once (to 1e-12)."""
    from replication_ladder.models.kinds import bambi_formula

    data = small_multisite()
    data["rating"] = np.clip(np.round(data["value"]), 0, 9).astype(int)
    formula = "rating ~ condition + (1|study)"
    spec = spec_of("multisite", "fixed", formula=formula, family="cumulative", priors={})
    rung = build_rung(spec, data)
    idata = rung.finish(compile_rung(rung, spec["sampling"]).sample(1, 1))
    whole = rung.outcome_effect(idata, "condition", 40, seed=3)
    monkeypatch.setattr(bambi_formula, "PREDICTIVE_VALUES", rung.n_rows * 10 * 7)
    in_blocks = rung.outcome_effect(idata, "condition", 40, seed=3)
    assert whole.shape == in_blocks.shape == (40,)
    np.testing.assert_allclose(in_blocks, whole, rtol=0, atol=1e-12)


def test_a_group_term_takes_up_the_effect_where_the_design_nests_it():
    """level_shift, by hand: the treatment between participants (constant within each)
    is taken up by their intercepts, level by level; the treatment's own slope across
    sites by one unit a site; within participants, no intercept takes it up."""
    from replication_ladder.models.kinds.bambi_formula import level_shift

    treatment = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 0.0]) - 1 / 3  # centred, as Bambi has it
    participant = np.array([0, 0, 1, 1, 2, 2])
    ones = np.ones(6)
    np.testing.assert_allclose(
        level_shift(treatment, ones, participant, 3), [-1 / 3, 2 / 3, -1 / 3], rtol=1e-15
    )
    site = np.array([0, 0, 0, 1, 1, 1])
    np.testing.assert_allclose(level_shift(treatment, treatment, site, 2), [1.0, 1.0])
    within = np.array([0, 1, 0, 1, 2, 2])  # participants 0 and 1 see both conditions
    assert level_shift(treatment, ones, within, 3) is None
