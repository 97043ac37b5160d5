"""The config: defaults filled by the package, schema and semantic checks naming the key,
documentation of every key, and the per-job settings derived from it."""

import copy
import re

import pandas as pd
import pytest
import yaml

from replication_ladder.base.errors import ConfigError
from replication_ladder.base.hashing import canonical_hash
from replication_ladder.base.seeds import derive_seed
from replication_ladder.config import Ladder, load_schema
from replication_ladder.models.families import FAMILY_PARAMETERS

from conftest import CONFIG, PROJECT, config_copy

SCHEMA = load_schema()
_DELETE = object()


def config_with(**changes) -> dict:
    """A copy of the default config with dotted-path keys replaced (`a__b` is a.b)."""
    config = config_copy()
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = config
        for part in parents:
            node = node[part]
        if value is _DELETE:
            del node[leaf]
        else:
            node[leaf] = value
    return config


def test_default_config_is_valid():
    ladder = Ladder(config_copy())
    assert set(ladder.datasets) == {
        "rrr",
        "rrr_labs",
        "multisite",
        "linear",
        "categorical",
        "logit",
        "measurement_error",
        "within",
    }
    assert ladder.models("rrr") == [
        "fixed",
        "random_intercept",
        "random_slope",
        "participant",
        "meta_analysis",
        "ordinal",
    ]


MINIMAL = {
    "source": {"path": "data/mine.csv"},
    "columns": {"y": "number", "x": "number", "lab": "category"},
    "outcome": {"range": [0, 10]},
    "site": "lab",
    "models": {"fixed": {"formula": "y ~ x"}, "random_intercept": {"formula": "y ~ x + (1|lab)"}},
}
EXPLICIT = {
    "description": "",
    "source": {"path": "data/mine.csv"},
    "columns": {"y": "number", "x": "number", "lab": "category"},
    "rename": {},
    "outcome": {"label": None, "unit": None, "kind": None, "range": [0, 10]},
    "dropna": ["y", "x", "lab"],
    "site": "lab",
    "participant": None,
    "loso": False,
    "replication": None,
    "predict": None,
    "models": {
        "fixed": {
            "kind": "bambi",
            "formula": "y ~ x",
            "family": "gaussian",
            "priors": {},
            "sampling": {},
        },
        "random_intercept": {
            "kind": "bambi",
            "formula": "y ~ x + (1|lab)",
            "family": "gaussian",
            "priors": {},
            "sampling": {},
        },
    },
}


def job_params(config: dict, dataset: str = "mine") -> dict:
    ladder = Ladder(config)
    return {
        "data": ladder.data_spec(dataset),
        "models": {m: ladder.model_spec(dataset, m) for m in ladder.models(dataset)},
        "comparison": ladder.comparison_spec(dataset),
        "report": ladder.report_settings(dataset)["spec"],
    }


def test_a_minimal_dataset_block_gives_the_explicit_forms_job_params():
    minimal = {"default_datasets": False, "datasets": {"mine": copy.deepcopy(MINIMAL)}}
    explicit = {"default_datasets": False, "datasets": {"mine": copy.deepcopy(EXPLICIT)}}
    assert job_params(minimal) == job_params(explicit)


def test_a_config_with_only_datasets_gets_every_global_default():
    """A user's config file alone (no config/config.yaml beneath it) is complete."""
    ladder = Ladder({"datasets": {"mine": copy.deepcopy(MINIMAL)}})
    assert ladder.sampling("mine", "fixed") == {
        "sampler": "nutpie",
        "draws": 1000,
        "tune": 1000,
        "thin": 1,
        "chains": 4,
        "target_accept": 0.9,
        "mass_matrix": "diag",
    }
    assert ladder.raw["loo"]["remedy"] == "moment_match" and ladder.raw["ci_prob"] == 0.95


def test_default_datasets_false_keeps_only_the_configs_own():
    config = config_copy()
    config["default_datasets"] = False
    config["datasets"]["mine"] = copy.deepcopy(MINIMAL)
    assert Ladder(config).datasets == ["mine"]
    config = config_copy()
    config["datasets"]["mine"] = copy.deepcopy(MINIMAL)
    assert "mine" in Ladder(config).datasets and "rrr" in Ladder(config).datasets


def test_only_keeps_the_rungs_it_names_and_the_other_datasets_whole():
    config = config_copy()
    config["only"] = {"rrr": ["participant", "fixed"]}
    ladder = Ladder(config)
    assert ladder.models("rrr") == ["participant", "fixed"]
    assert ladder.models("multisite") == list(CONFIG["datasets"]["multisite"]["models"])


@pytest.mark.parametrize(
    ("only", "message"),
    [
        ({"nope": ["fixed"]}, r"config key only\.nope: there is no dataset nope \(known: rrr, "),
        ({"rrr": ["fixed", "nope"]}, r"config key only\.rrr: rrr has no rung nope \(its rungs: "),
        ({"rrr": []}, r"config key only\.rrr: \[\] should be non-empty"),
        # The verdict's rung left out: the check that names it says so.
        ({"rrr": ["fixed"]}, r"verdict_model: 'participant' is not a rung of datasets\.rrr"),
    ],
)
def test_only_errors_name_the_key(only, message):
    config = config_copy()
    config["only"] = only
    config["datasets"]["rrr"]["replication"]["verdict_model"] = "participant"
    with pytest.raises(ConfigError, match=message):
        Ladder(config)


def test_default_datasets_false_that_drops_everything_says_what_the_key_is_for(tmp_path):
    """config/config.yaml itself with the key: every dataset is a shipped one."""
    own = tmp_path / "config.yaml"
    own.write_text(yaml.safe_dump({"datasets": {"mine": MINIMAL}}))
    config = {"default_datasets": False, "datasets": {"mine": copy.deepcopy(MINIMAL)}}
    with pytest.raises(ConfigError, match=r"dropped every dataset \(mine\).*--configfile"):
        Ladder(config, shipped_config=own)


def test_schema_defaults_match_the_shipped_config():
    """config/config.yaml writes out the defaults the schema gives (nothing diverges)."""
    explicit = config_copy()
    filled = {"datasets": copy.deepcopy(explicit["datasets"])}
    Ladder(filled)
    for key in ("seed", "preset", "mirror", "allow_http", "download", "compile_cache", "ci_prob"):
        assert filled[key] == explicit[key], key
    for key in ("convergence", "strict_convergence", "sampling", "loo", "default_datasets"):
        assert filled[key] == explicit[key], key


PLACEHOLDERS = {
    "datasets": "<name>",
    "models": "<model>",
    "presets": "<preset>",
    "columns": "<column>",
    "priors": "<term>",
    "rename": "<column in the file>",
}


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].split("/")[-1]]
    return node


def schema_paths(node: dict, prefix: str = "") -> set[str]:
    """Every documented key path: `download.retries`, `datasets.<name>.source.url`..."""
    node = _resolve(node)
    paths = set()
    for branch in node.get("oneOf", []) + node.get("anyOf", []):
        if isinstance(branch, dict):
            paths |= schema_paths(branch, prefix)
    for name, sub in node.get("properties", {}).items():
        path = f"{prefix}{name}"
        paths.add(path)
        if name not in ("params", "test_prior"):  # a generator's own parameters; a prior
            paths |= schema_paths(sub, f"{path}.")
    extra = node.get("additionalProperties")
    parent = prefix.rstrip(".").split(".")[-1]
    if isinstance(extra, dict) and parent in PLACEHOLDERS and parent not in ("priors", "rename"):
        paths |= schema_paths(extra, f"{prefix}{PLACEHOLDERS[parent]}.")
    return paths


def test_config_readme_documents_every_key():
    readme = (PROJECT / "config" / "README.md").read_text()
    # A model's or preset's `sampling` block takes the same keys as the global one.
    keys = {
        key
        for key in schema_paths(SCHEMA)
        if (key.startswith(("sampling", "sbc")) or ".sampling." not in key)
        and not key.startswith("presets.<preset>.sbc.")
    }
    missing = sorted(key for key in keys if f"`{key}`" not in readme)
    assert not missing, f"config/README.md does not document: {missing}"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seed": -1}, r"config key seed: -1 is less than the minimum of 0"),
        ({"sampling__draws": -5}, r"config key sampling\.draws: -5 is less than the minimum"),
        ({"sampling__chains": 0}, r"config key sampling\.chains: 0 is less than the minimum"),
        ({"sampling__sampler": "stan"}, r"config key sampling\.sampler: 'stan' is not one of"),
        ({"ci_prob": 1.5}, r"config key ci_prob: 1\.5 is greater than or equal"),
        ({"unknown_key": 1}, r"config key \(top level\): Additional properties"),
        (
            {"datasets__rrr__source__sha256": "abc"},
            r"config key datasets\.rrr\.source\.sha256: 'abc' does not match",
        ),
        (
            {"datasets__rrr__models__fixed__sampling": {"tune": -1}},
            r"config key datasets\.rrr\.models\.fixed\.sampling\.tune: -1 is less than",
        ),
        (
            {"datasets__rrr__columns__value": "float"},
            r"config key datasets\.rrr\.columns\.value: 'float' is not one of",
        ),
        (
            {"datasets__rrr__models__fixed__kind": "stan"},
            r"config key datasets\.rrr\.models\.fixed\.kind: 'stan' is not one of",
        ),
        (
            {"datasets__rrr__source__read": {"sep": ";;"}},
            r"config key datasets\.rrr\.source\.read\.sep: ';;' is too long",
        ),
        (
            {"datasets__rrr__replication__original__effect": _DELETE},
            r"config key datasets\.rrr\.replication\.original: 'effect' is a required",
        ),
    ],
)
def test_schema_errors_name_the_key(changes, message):
    with pytest.raises(ConfigError, match=message):
        Ladder(config_with(**changes))


@pytest.mark.parametrize("name", ["../x", "/abs", "a/b", "Rrr", "1st", ""])
def test_dataset_names_cannot_escape_their_directories(name):
    config = config_copy()
    config["datasets"][name] = config["datasets"].pop("linear")
    with pytest.raises(ConfigError, match=r"config key datasets"):
        Ladder(config)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"datasets__rrr__source__url": "http://example.org/rrr_long.csv"},
            r"datasets\.rrr\.source\.url: only https:// URLs",
        ),
        (
            {"datasets__rrr__source__url": "ftp://example.org/rrr_long.csv"},
            r"config key datasets\.rrr\.source",
        ),
        ({"preset": "huge"}, r"config key preset: 'huge' is not in presets"),
        (
            {"datasets__rrr__dropna": ["value", "weight"]},
            r"datasets\.rrr\.dropna: 'weight' is not in datasets\.rrr\.columns",
        ),
        ({"datasets__rrr__site": "lab"}, r"datasets\.rrr\.site: 'lab' is not in"),
        ({"datasets__rrr__site": "age"}, r"datasets\.rrr\.site: column 'age' must have type"),
        (
            {"datasets__rrr__rename": {"Rating": "score"}},
            r"datasets\.rrr\.rename\.Rating: 'score' is not in datasets\.rrr\.columns",
        ),
        (
            {"datasets__rrr__replication__treatment": "age"},
            r"datasets\.rrr\.replication\.treatment: column 'age' has type number; a treatment "
            r"must be binary",
        ),
        (
            {"datasets__rrr__replication__contrast": [0, 2]},
            r"datasets\.rrr\.replication\.contrast: a binary treatment's levels are 0 and 1",
        ),
        (
            {"datasets__rrr__replication__verdict_model": "nope"},
            r"datasets\.rrr\.replication\.verdict_model: 'nope' is not a rung",
        ),
        (
            {
                "datasets__rrr__models__fixed__priors": {
                    "condition": {
                        "dist": "Normal",
                        "mu": 0,
                        "sigma": {"dist": "HalfNormal", "sigma": 1},
                    }
                }
            },
            r"datasets\.rrr\.models\.fixed\.priors\.condition: the treatment's prior must have "
            r"fixed parameters",
        ),
        (
            {"datasets__linear__source__params": {"n": 100, "alpha": 1.0, "beta": 2.5}},
            r"datasets\.linear\.source\.params: missing 'sigma'",
        ),
        (
            {"datasets__linear__source__params": {"n": 1.5, "alpha": 1, "beta": 2, "sigma": 1}},
            r"datasets\.linear\.source\.params\.n: expected an integer",
        ),
        (
            {"datasets__linear__source": {"path": "x.sas7bdat"}, "datasets__linear__predict": None},
            r"datasets\.linear\.source: cannot tell the format of 'x\.sas7bdat' from its "
            r"extension; set datasets\.linear\.source\.read\.format",
        ),
        (
            {"sbc__datasets": ["nope"]},
            r"config key sbc\.datasets: 'nope' is not a dataset",
        ),
        (
            {"datasets__rrr__models__fixed__sampling": {"draws": 10, "thin": 20}},
            r"datasets\.rrr\.models\.fixed\.sampling: thin 20 keeps no draw of 10",
        ),
    ],
)
def test_semantic_errors_name_the_key(changes, message):
    with pytest.raises(ConfigError, match=message):
        Ladder(config_with(**changes))


def test_a_category_treatment_needs_its_contrast():
    config = config_copy()
    rrr = config["datasets"]["rrr"]
    rrr["columns"]["condition"] = "category"
    del rrr["replication"]["contrast"]
    with pytest.raises(
        ConfigError,
        match=r"datasets\.rrr\.replication\.contrast: say which level of 'condition' is the "
        r"control and which the treatment",
    ):
        Ladder(config)
    rrr["replication"]["contrast"] = ["lips", "teeth"]
    assert Ladder(config).data_spec("rrr")["contrast"] == ["lips", "teeth"]


def test_an_unknown_extension_asks_for_the_format():
    config = config_with(
        datasets__linear__source={"path": "study.dat"}, datasets__linear__predict=None
    )
    with pytest.raises(
        ConfigError,
        match=r"datasets\.linear\.source: cannot tell the format of 'study\.dat'.*read\.format",
    ):
        Ladder(config)
    config = config_with(
        datasets__linear__source={"path": "study.dat", "read": {"format": "csv", "sep": ";"}},
        datasets__linear__predict=None,
    )
    assert Ladder(config).raw_extension("linear") == "csv"


def test_http_allowed_only_when_asked():
    config = config_with(
        **{"datasets__rrr__source__url": "http://127.0.0.1:8000/rrr_long.csv", "allow_http": True}
    )
    assert Ladder(config).dataset("rrr")["source"]["url"].startswith("http://")


def test_family_table_matches_bambi():
    from bambi.defaults.families import BUILTIN_FAMILIES

    bambi_table = {
        name: tuple(p for p in spec["likelihood"]["params"] if p != spec["likelihood"]["parent"])
        for name, spec in BUILTIN_FAMILIES.items()
    }
    assert {name: set(params) for name, params in FAMILY_PARAMETERS.items()} == {
        name: set(params) for name, params in bambi_table.items()
    }


def test_presets_override_model_sampling():
    config = config_with(
        preset="smoke",
        datasets__rrr__models__fixed__sampling={"target_accept": 0.95, "draws": 5000},
    )
    sampling = Ladder(config).sampling("rrr", "fixed")
    assert sampling == {
        "sampler": "nutpie",
        "draws": 100,
        "tune": 100,
        "thin": 1,
        "chains": 2,
        "target_accept": 0.95,
        "mass_matrix": "diag",
    }


def test_thorough_preset_switches_on_loso_where_there_is_a_site():
    ladder = Ladder(config_with(preset="thorough"))
    assert ladder.loso("rrr") and ladder.loso("multisite")
    assert not ladder.loso("linear")
    assert not Ladder(config_copy()).loso("rrr")
    # The meta-analysis models the sites themselves: it is not refitted without one.
    assert "meta_analysis" not in ladder.loso_models("rrr")


def test_the_comparison_keeps_likelihoods_apart():
    spec = Ladder(config_copy()).comparison_spec("rrr")
    assert spec["compared"] == ["fixed", "random_intercept", "random_slope", "participant"]
    assert set(spec["excluded"]) == {"meta_analysis", "ordinal"}
    assert "discrete" in spec["excluded"]["ordinal"]


def test_which_rungs_respect_the_design():
    ladder = Ladder(config_copy())
    respects = [m for m in ladder.models("rrr") if ladder.respects_design("rrr", m)]
    assert respects == ["participant", "meta_analysis", "ordinal"]


def test_a_fixed_effect_meta_analysis_never_decides_a_summary_level_verdict():
    """Sites differ: of rrr_labs' two rungs only the random-effects one models them, so
    the verdict cannot fall to the fixed effect however LOO ranks 17 points (it won by
    0.57 nats)."""
    from replication_ladder.verdict.replication import choose_verdict_model

    ladder = Ladder(config_copy())
    spec = ladder.replication_spec("rrr_labs")
    assert spec["respects_design"] == ["random_effects"]
    chosen, because = choose_verdict_model(
        {**spec, "verdict_model": None}, ["fixed_effect", "random_effects"], spec["models"]
    )
    assert chosen == "random_effects" and "models every level of the design" in because


@pytest.mark.parametrize(
    ("priors", "effect_size", "error"),
    [
        ("metaBMA", "d", None),
        ("RoBMA", "g", None),
        (
            "metaBMA",
            "raw",
            "priors are on a standardized effect; set datasets.rrr_labs.effect_size",
        ),
        ("bambi", "d", "'bambi' names no set of priors this rung's builder has"),
    ],
)
def test_a_meta_analysis_takes_a_packages_default_priors_by_name(priors, effect_size, error):
    """metaBMA's Cauchy(0, 0.707) and RoBMA's Normal(0, 1) on d, both with
    InverseGamma(1, 0.15) on tau, by name; refused on a raw effect, which they are not on."""
    from replication_ladder.models.builders import PRIOR_SETS, meta_analysis

    config = config_copy()
    labs = config["datasets"]["rrr_labs"]
    labs["effect_size"] = effect_size
    labs["models"]["random_effects"]["priors"] = priors
    if error:
        with pytest.raises(ConfigError, match=re.escape(error)):
            Ladder(config)
        return
    ladder = Ladder(config)
    spec = ladder.model_spec("rrr_labs", "random_effects")
    frame = pd.DataFrame({"outcome_sd": [1.3]})
    used = meta_analysis.priors(frame, spec)
    assert used == {
        "condition": PRIOR_SETS[priors][0],
        "condition|site_sigma": PRIOR_SETS[priors][1],
    }


def test_seeds_are_stable_and_distinct():
    ladder = Ladder(config_copy())
    assert derive_seed(20161026, "rrr", "fixed") == derive_seed(20161026, "rrr", "fixed")
    seeds = {derive_seed(1, dataset, model) for dataset, model in ladder.fits()}
    assert len(seeds) == len(ladder.fits())
    # Fixed value: the derivation must never change silently between releases.
    assert derive_seed(1, "rrr", "fixed") == 96471740  # sha256("1/rrr/fixed")[:8] mod 2**31
    assert all(0 <= seed < 2**31 for seed in seeds)


def test_model_spec_hash_tracks_what_changes_the_fit():
    base = Ladder(config_copy()).model_spec("rrr", "fixed")
    assert (
        base["config_sha256"] == Ladder(config_copy()).model_spec("rrr", "fixed")["config_sha256"]
    )
    tuned = Ladder(config_with(sampling__tune=500)).model_spec("rrr", "fixed")
    assert tuned["config_sha256"] != base["config_sha256"]
    # Convergence thresholds judge a fit; they do not change it.
    strict = Ladder(config_with(strict_convergence=True)).model_spec("rrr", "fixed")
    assert strict["config_sha256"] == base["config_sha256"]
    assert canonical_hash({"a": 1, "b": 2}) == canonical_hash({"b": 2, "a": 1})


def test_a_reports_settings_change_with_its_own_dataset_only():
    """A report's params (and their hash, which the report shows) follow its dataset's
    block and the global settings it uses: editing another dataset renders it again
    for nothing."""
    base = Ladder(config_copy()).report_settings("linear")
    other = Ladder(config_with(datasets__rrr__outcome__unit="points")).report_settings("linear")
    assert other == base
    for changes in ({"datasets__linear__description": "edited"}, {"ci_prob": 0.9}):
        changed = Ladder(config_with(**changes)).report_settings("linear")
        assert changed["settings_sha256"] != base["settings_sha256"], changes


def test_the_shipped_config_is_what_the_readme_says():
    """Every dataset of config/config.yaml is in the README's table of datasets."""
    readme = (PROJECT / "README.md").read_text()
    for name in CONFIG["datasets"]:
        assert f"| `{name}` |" in readme, name


def test_nested_command_line_values_are_typed():
    config = config_copy()
    config["sampling"] = yaml.safe_load("{draws: '200', chains: '2'}")
    assert Ladder(config).raw["sampling"]["draws"] == 200


def test_null_on_the_command_line_is_null_where_the_schema_allows_it():
    """`--config preset=null` arrives as the text 'null': a key that may be null (the
    preset) gets None; a name that must be text stays text."""
    config = config_copy() | {"preset": "null"}
    assert Ladder(config).preset == {}
    config = config_copy() | {"compile_cache": "null"}
    assert Ladder(config).raw["compile_cache"] == "null"  # a directory of that name


def test_the_order_of_a_configs_keys_does_not_reach_the_jobs():
    """The same settings in another order (a file written so, or Snakemake's merge of a
    --configfile, which puts its keys first) give every job the same params: Snakemake
    would rerun a job whose params print differently."""
    config = config_copy()
    shuffled = config_copy()
    shuffled["loo"] = dict(reversed(shuffled["loo"].items()))
    shuffled["sampling"] = dict(reversed(shuffled["sampling"].items()))
    rrr = shuffled["datasets"]["rrr"]
    shuffled["datasets"]["rrr"] = dict(reversed(rrr.items()))
    ours, theirs = Ladder(config), Ladder(shuffled)
    assert repr(theirs.loo_settings("rrr")) == repr(ours.loo_settings("rrr"))
    for model in ours.models("rrr"):
        assert repr(theirs.model_spec("rrr", model)) == repr(ours.model_spec("rrr", model))
    assert repr(theirs.data_spec("rrr")) == repr(ours.data_spec("rrr"))
    assert theirs.models("rrr") == ours.models("rrr")  # the ladder's own order is kept


def test_a_column_named_like_an_arviz_dimension_is_read_under_another_name():
    """`draw` as a covariate would be a posterior variable xarray takes for its draw
    coordinate: it is read as `draw_`, in the rename, the formulas and the priors."""
    config = {
        "default_datasets": False,
        "datasets": {
            "mine": {
                **copy.deepcopy(MINIMAL),
                "columns": {"y": "number", "draw": "number", "lab": "category"},
                "models": {
                    "fixed": {
                        "formula": "y ~ draw + (draw|lab)",
                        "priors": {"draw": {"dist": "Normal", "mu": 0, "sigma": 1}},
                    }
                },
            }
        },
    }
    spec = Ladder(config).dataset("mine")
    assert spec["rename"] == {"draw": "draw_"} and "draw_" in spec["columns"]
    assert spec["models"]["fixed"]["formula"] == "y ~ draw_ + (draw_|lab)"
    assert set(spec["models"]["fixed"]["priors"]) == {"draw_"}
