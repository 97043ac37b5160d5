"""Model specs: errors before sampling, priors, samplers, summaries and diagnostics."""

import copy

import numpy as np
import pandas as pd
import pytest
import yaml

from replication_ladder import models
from replication_ladder.config import Ladder
from replication_ladder.errors import ConfigError, ModelError
from replication_ladder.fit import convergence_warnings

from conftest import PROJECT, snakemake

CONFIG = yaml.safe_load((PROJECT / "config" / "config.yaml").read_text())


def with_model(dataset: str, model: str, **entry) -> dict:
    config = copy.deepcopy(CONFIG)
    config["datasets"][dataset]["models"][model].update(entry)
    return config


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"formula": "value ~ condition + weight"},
            r"datasets\.rrr\.models\.fixed\.formula: column 'weight' is not in "
            r"datasets\.rrr\.columns",
        ),
        (
            {"family": "gausian"},
            r"datasets\.rrr\.models\.fixed\.family: unknown family 'gausian' \(Bambi offers: .*"
            r"gaussian",
        ),
        (
            {"priors": {"condition": {"dist": "Normall", "mu": 0, "sigma": 1}}},
            r"datasets\.rrr\.models\.fixed\.priors\.condition\.dist: 'Normall' is not a PyMC "
            r"distribution",
        ),
        (
            {
                "priors": {
                    "1|study": {
                        "dist": "Normal",
                        "mu": 0,
                        "sigma": {"dist": "HalfNormall", "sigma": 1},
                    }
                }
            },
            r"datasets\.rrr\.models\.fixed\.priors: term '1\|study' is not in the formula",
        ),
        (
            {
                "priors": {
                    "age": {"dist": "Normal", "mu": 0, "sigma": {"dist": "HalfNormall", "sigma": 1}}
                }
            },
            r"datasets\.rrr\.models\.fixed\.priors\.age\.sigma\.dist: 'HalfNormall' is not",
        ),
        (
            {"priors": {"stimulus": {"dist": "Normal", "mu": 0, "sigma": 1}}},
            r"datasets\.rrr\.models\.fixed\.priors: term 'stimulus' is not in the formula "
            r"\(terms: Intercept, age, condition, gender, sigma\)",
        ),
        (
            {"formula": "value ~ (condition"},
            r"datasets\.rrr\.models\.fixed\.formula: cannot parse formula",
        ),
        (
            {"sampling": {"sampler": "numpyro"}},
            r"datasets\.rrr\.models\.fixed: sampler 'numpyro' needs jax and numpyro, which are "
            r"not installed\. Install the optional extra with",
        ),
    ],
)
def test_model_errors_name_dataset_model_and_term(entry, message):
    with pytest.raises(ConfigError, match=message):
        Ladder(with_model("rrr", "fixed", **entry))


def test_priors_on_family_parameters_and_group_terms_are_accepted():
    config = with_model(
        "rrr",
        "random_slope",
        priors={
            "sigma": {"dist": "HalfNormal", "sigma": 3},
            "condition|study": {
                "dist": "Normal",
                "mu": 0,
                "sigma": {"dist": "HalfNormal", "sigma": 0.5},
            },
        },
    )
    Ladder(config)


@pytest.mark.workflow
def test_a_bad_formula_fails_before_any_job_runs(workflow_copy, rrr_mirror):
    override = "{rrr: {models: {random_slope: {formula: 'value ~ condition + (condition|lab)'}}}}"
    result = snakemake(
        workflow_copy, "--dry-run", config={"mirror": rrr_mirror, "datasets": override}, check=False
    )
    assert result.returncode != 0
    assert (
        "datasets.rrr.models.random_slope.formula: column 'lab' is not in datasets.rrr.columns"
    ) in result.stdout + result.stderr
    assert not (workflow_copy / "data").exists()


def test_nested_priors_become_bambi_priors():
    prior = models.to_bambi_prior(
        {"dist": "Normal", "mu": 0, "sigma": {"dist": "HalfNormal", "sigma": 2}}
    )
    assert prior.name == "Normal" and prior.args["sigma"].name == "HalfNormal"
    assert models._plain(prior) == {
        "dist": "Normal",
        "mu": 0.0,
        "sigma": {"dist": "HalfNormal", "sigma": 2.0},
    }


def _spec(**changes) -> dict:
    spec = Ladder(CONFIG).model_spec("categorical", "custom_prior")
    spec.update(changes)
    return spec


def test_bambi_errors_at_build_name_the_model():
    data = pd.DataFrame(
        {"X": [0.1, 0.2, 0.3], "Y": [1.0, 2.0, 3.0], "D": pd.Categorical(["0", "1", "0"])}
    )
    with pytest.raises(
        ModelError,
        match=r"datasets\.categorical\.models\.custom_prior: cannot "
        r"build 'Y ~ nosuchfunction\(X\)'",
    ):
        models.build(_spec(formula="Y ~ nosuchfunction(X)", priors={}), data)


def test_priors_as_used_include_bambis_defaults_and_ours():
    rng = np.random.default_rng(0)
    data = pd.DataFrame(
        {
            "X": rng.normal(size=50),
            "Y": rng.normal(size=50),
            "D": pd.Categorical(rng.choice(["0", "1"], 50)),
        }
    )
    built = models.build(_spec(), data)
    priors = built.priors()
    assert priors["C(D)"] == {"dist": "Normal", "mu": 0.5, "sigma": 10.0}
    assert priors["sigma"]["dist"] == "HalfStudentT"
    assert set(priors) == {"Intercept", "X", "C(D)", "sigma"}
    assert "C(D) ~ Normal(mu: 0.5, sigma: 10.0)" in built.description()


def test_convergence_warnings_name_each_threshold():
    thresholds = {"max_r_hat": 1.01, "min_ess": 400, "max_divergences": 0}
    ok = {"divergences": 0, "max_r_hat": 1.004, "min_ess_bulk": 900.0, "min_ess_tail": 800.0}
    assert convergence_warnings(ok, thresholds) == []
    bad = {"divergences": 3, "max_r_hat": 1.05, "min_ess_bulk": 120.0, "min_ess_tail": 800.0}
    assert convergence_warnings(bad, thresholds) == [
        "3 divergent transitions",
        "r_hat up to 1.050 (above 1.01)",
        "bulk ESS down to 120 (below 400)",
    ]


@pytest.mark.parametrize(
    ("formula", "family"),
    [
        ("value ~ condition + age + (condition|study)", "gaussian"),
        ("gender ~ age + condition + (1|study)", "bernoulli"),
    ],
)
def test_batched_log_likelihood_equals_bambis(formula, family):
    """Our vectorised log-likelihood (used by every fit) against Bambi's own."""
    from replication_ladder.datasets import generate

    source = {**CONFIG["datasets"]["multisite"]["source"]}
    source["params"] = {**source["params"], "sites": 4, "participants": 20}
    data = generate(source).data
    data["study"] = pd.Categorical(data["study"].astype(str))
    spec = _spec(dataset="multisite", model="test", formula=formula, family=family, priors={})
    spec["sampling"] = {**spec["sampling"], "draws": 50, "tune": 50, "chains": 2}
    built = models.build(spec, data)
    idata = built.sample(spec["sampling"], seed=1, cores=2)
    built.add_log_likelihood(idata)
    ours = idata["log_likelihood"].to_dataset()
    response = formula.split(" ~")[0]
    built.bambi_model.compute_log_likelihood(idata)
    np.testing.assert_allclose(
        ours[response].values, idata["log_likelihood"][response].values, rtol=0, atol=1e-10
    )


def test_nutpie_draws_the_reference_posterior_of_the_rrr_random_intercept(rrr_mirror):
    """The fast path (nutpie, the default) against PyMC's own NUTS on real data: every
    parameter's mean within Monte Carlo error, and its sd within a few percent."""
    from replication_ladder.fit import summarize
    from replication_ladder.validation import process

    ladder = Ladder(CONFIG)
    table, _ = process(rrr_mirror / "rrr_long.csv", ladder.data_spec("rrr"))
    summaries = {}
    for sampler in ("nutpie", "pymc"):
        spec = ladder.model_spec("rrr", "random_intercept")
        settings = {**spec["sampling"], "sampler": sampler, "draws": 1000, "tune": 500}
        settings["chains"] = 2
        built = models.build(spec, table)
        summaries[sampler] = summarize(built.sample(settings, spec["seed"], cores=2), 0.95)
    fast, reference = summaries["nutpie"], summaries["pymc"]
    assert sorted(fast.index) == sorted(reference.index) and len(fast) == 23
    reference = reference.loc[fast.index]
    z = (fast["mean"] - reference["mean"]) / np.hypot(fast["mcse_mean"], reference["mcse_mean"])
    assert z.abs().max() < 4, z.sort_values().to_string()
    ratio = fast["sd"] / reference["sd"]
    assert ratio.between(0.85, 1.15).all(), ratio.to_string()
    assert (fast["r_hat"] < 1.01).all() and (reference["r_hat"] < 1.01).all()
