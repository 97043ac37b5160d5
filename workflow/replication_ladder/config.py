"""The workflow's config: schema validation, semantic checks and resolved settings.

`Ladder(config)` is what the rules use. Everything a job needs is resolved here, at
workflow start, so that a bad key fails before any job runs with a message naming its
key path (`datasets.rrr.models.fixed.formula`), and so each job receives a plain dict
(its params) whose hash changes exactly when its result would.
"""

import contextlib
import copy
import functools
import hashlib
import json
from functools import cached_property
from pathlib import Path
from typing import Any

from replication_ladder.errors import ConfigError, ModelError
from replication_ladder.seeds import derive_seed

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "config" / "schema.yaml"

# Bambi's families and their auxiliary parameters (those a prior may name besides the
# formula's terms). tests/test_config.py keeps this in step with bambi's BUILTIN_FAMILIES,
# so that a config is checked at start without importing Bambi into every Snakemake parse.
FAMILY_PARAMETERS: dict[str, tuple[str, ...]] = {
    "asymmetriclaplace": ("b", "kappa"),
    "bernoulli": (),
    "beta": ("kappa",),
    "beta_binomial": ("kappa",),
    "binomial": (),
    "categorical": (),
    "cumulative": ("threshold",),
    "dirichlet_multinomial": (),
    "exgaussian": ("sigma", "nu"),
    "exponential": (),
    "gamma": ("alpha",),
    "gaussian": ("sigma",),
    "hurdle_gamma": ("alpha", "psi"),
    "hurdle_lognormal": ("sigma", "psi"),
    "hurdle_negativebinomial": ("alpha", "psi"),
    "hurdle_poisson": ("psi",),
    "laplace": ("b",),
    "lognormal": ("sigma",),
    "multinomial": (),
    "negativebinomial": ("alpha",),
    "poisson": (),
    "sratio": ("threshold",),
    "t": ("sigma", "nu"),
    "vonmises": ("kappa",),
    "wald": ("lam",),
    "weibull": ("alpha",),
    "zero_inflated_binomial": ("psi",),
    "zero_inflated_negativebinomial": ("alpha", "psi"),
    "zero_inflated_poisson": ("psi",),
}


def key_path(*parts: Any) -> str:
    return ".".join(str(part) for part in parts)


def canonical_hash(obj: Any) -> str:
    """SHA-256 of an object's canonical JSON (sorted keys): stable across runs."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


OPERATIONAL_KEYS = frozenset({"mirror", "allow_http", "download", "compile_cache"})


def analysis_sha256(config: dict) -> str:
    """Hash of the analysis a config describes: every setting but where files come from
    and where compiled code is cached."""
    return canonical_hash({k: v for k, v in config.items() if k not in OPERATIONAL_KEYS})


def _schema_error_message(error) -> str:
    # oneOf/anyOf failures hide the useful message among their sub-errors.
    from jsonschema.exceptions import best_match

    if error.context:
        error = best_match(error.context)
    where = key_path(*error.absolute_path) or "(top level)"
    return f"config key {where}: {error.message}"


@functools.cache
def _load_schema(schema_path: Path) -> dict:
    import yaml

    return yaml.safe_load(schema_path.read_text())


_JSON_TYPES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "NoneType": "null",
}


def _types(node: dict, schema: dict) -> set[str]:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].split("/")[-1]]
    declared = node.get("type", [])
    types = set(declared if isinstance(declared, list) else [declared])
    if "enum" in node:
        types |= {_JSON_TYPES[type(value).__name__] for value in node["enum"]}
    return types


def _subschema(node: dict, key: str, schema: dict) -> dict | None:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].split("/")[-1]]
    if key in node.get("properties", {}):
        return node["properties"][key]
    extra = node.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def coerce_cli_values(config: dict, schema_path: Path = SCHEMA_PATH) -> None:
    """Turn strings from nested --config values into the numbers or booleans the schema
    expects, in place. Snakemake reads nested --config values with YAML's BaseLoader, so
    `--config 'sampling={draws: 200}'` arrives as the string '200'."""
    import yaml

    schema = _load_schema(schema_path)

    def walk(node: dict | None, value: dict) -> None:
        for key, item in value.items():
            # No schema below a free-form mapping (a generator's params): YAML decides.
            sub = _subschema(node, key, schema) if node is not None else None
            if isinstance(item, dict):
                walk(sub, item)
            elif isinstance(item, str) and "string" not in _types(sub or {}, schema):
                # Unparsable text stays as it is, and validation names the key.
                with contextlib.suppress(yaml.YAMLError):
                    value[key] = yaml.safe_load(item)

    walk(schema, config)


def validate_schema(config: dict, schema_path: Path = SCHEMA_PATH) -> None:
    """Check `config` against the JSON schema with snakemake.utils.validate."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        validate(config, str(schema_path), set_default=False)
    except WorkflowError as error:
        # Snakemake flattens the jsonschema error into text; the error itself is the context.
        cause = error.__context__
        if not hasattr(cause, "absolute_path"):
            raise ConfigError(f"config is invalid: {error}") from None
        raise ConfigError(_schema_error_message(cause)) from None


def _formula_terms(formula: str, where: str) -> tuple[set[str], set[str], set[str]]:
    """The columns a formula reads, the names of its terms (as Bambi names them) and the
    columns of its response."""
    import formulae

    try:
        description = formulae.model_description(formula)
    except Exception as error:  # formulae raises several unrelated types
        raise ConfigError(f"{where}: cannot parse formula {formula!r}: {error}") from None
    terms = {term.name for term in description.terms}
    return set(description.var_names), terms, set(description.response.term.var_names)


def _check_prior(prior: dict, where: str) -> None:
    import pymc

    dist = getattr(pymc, prior["dist"], None)
    if not (isinstance(dist, type) and issubclass(dist, pymc.Distribution)):
        raise ConfigError(f"{where}.dist: {prior['dist']!r} is not a PyMC distribution")
    for name, value in prior.items():
        if isinstance(value, dict):
            _check_prior(value, f"{where}.{name}")


class Ladder:
    """The validated config with presets applied, and the per-job settings derived from it."""

    def __init__(self, config: dict, *, schema_path: Path = SCHEMA_PATH):
        coerce_cli_values(config, schema_path)
        validate_schema(config, schema_path)
        self.raw = copy.deepcopy(config)
        self.preset = self._preset()
        self._check()

    # -- presets -----------------------------------------------------------------

    def _preset(self) -> dict:
        name = self.raw["preset"]
        if name is None:
            return {}
        presets = self.raw["presets"]
        if name not in presets:
            known = ", ".join(sorted(presets)) or "none"
            raise ConfigError(f"config key preset: {name!r} is not in presets (known: {known})")
        return presets[name]

    # -- datasets and models -------------------------------------------------------

    @property
    def seed(self) -> int:
        return self.raw["seed"]

    @property
    def datasets(self) -> list[str]:
        return list(self.raw["datasets"])

    def dataset(self, name: str) -> dict:
        return self.raw["datasets"][name]

    def source_kind(self, dataset: str) -> str:
        source = self.dataset(dataset)["source"]
        return next(kind for kind in ("url", "path", "generator") if kind in source)

    def datasets_by_source(self, *kinds: str) -> list[str]:
        return [name for name in self.datasets if self.source_kind(name) in kinds]

    @property
    def synthetic_datasets(self) -> list[str]:
        return self.datasets_by_source("generator")

    @property
    def replication_datasets(self) -> list[str]:
        return [name for name in self.datasets if self.dataset(name)["replication"]]

    @property
    def reported_datasets(self) -> list[str]:
        """Datasets with at least one model: those compared and reported."""
        return [name for name in self.datasets if self.models(name)]

    def models(self, dataset: str) -> list[str]:
        return list(self.dataset(dataset)["models"])

    def fits(self) -> list[tuple[str, str]]:
        return [(dataset, model) for dataset in self.datasets for model in self.models(dataset)]

    def loso(self, dataset: str) -> bool:
        spec = self.dataset(dataset)
        return spec["site"] is not None and (spec["loso"] or self.preset.get("loso", False))

    def sampling(self, dataset: str, model: str) -> dict:
        """Global defaults, then the model's own settings, then the preset's."""
        return {
            **self.raw["sampling"],
            **self.dataset(dataset)["models"][model].get("sampling", {}),
            **self.preset.get("sampling", {}),
        }

    def model_columns(self, dataset: str, model: str) -> tuple[str, list[str]]:
        """A rung's response column and its predictor columns."""
        entry = self.dataset(dataset)["models"][model]
        where = key_path("datasets", dataset, "models", model)
        if entry["kind"] == "pymc":
            from replication_ladder.builders import resolve_builder

            builder = resolve_builder(entry["builder"], f"{where}.builder")
            return builder.response, list(builder.predictors)
        variables, _, response = _formula_terms(entry["formula"], f"{where}.formula")
        (response,) = response
        return response, sorted(variables - {response})

    def response(self, dataset: str) -> str:
        """The outcome every rung of a dataset models (checked to be the same)."""
        return self.model_columns(dataset, self.models(dataset)[0])[0]

    def predictors(self, dataset: str) -> list[str]:
        """Every column some rung predicts from, in the dataset's column order."""
        used = {
            column
            for model in self.models(dataset)
            for column in self.model_columns(dataset, model)[1]
        }
        return [column for column in self.dataset(dataset)["columns"] if column in used]

    def new_rows_spec(self, dataset: str) -> dict:
        """What making a dataset's new rows needs (a job param)."""
        spec = self.dataset(dataset)
        predictors, response = self.predictors(dataset), self.response(dataset)
        return {
            "dataset": dataset,
            "predict": spec["predict"],
            "columns": {c: spec["columns"][c] for c in [*predictors, response]},
            "predictors": predictors,
            "response": response,
        }

    @property
    def predicted_datasets(self) -> list[str]:
        return [name for name in self.reported_datasets if self.dataset(name)["predict"]]

    def data_spec(self, dataset: str) -> dict:
        """What validation of the raw file needs (a job param: changes rerun it)."""
        spec = self.dataset(dataset)
        return {
            "dataset": dataset,
            "columns": spec["columns"],
            "dropna": spec["dropna"],
            "site": spec["site"],
            "treatment": (spec["replication"] or {}).get("treatment"),
        }

    def model_spec(self, dataset: str, model: str) -> dict:
        """Everything a fit's draws and summary depend on; its hash is the model's config
        hash. Convergence thresholds and strictness are not in it: they judge a fit
        without changing it, so changing them must not rerun finished fits."""
        entry = self.dataset(dataset)["models"][model]
        spec = {
            "dataset": dataset,
            "model": model,
            "kind": entry["kind"],
            "formula": entry.get("formula"),
            "family": entry.get("family"),
            "builder": entry.get("builder"),
            "priors": entry.get("priors", {}),
            "sampling": self.sampling(dataset, model),
            "seed": derive_seed(self.seed, dataset, model),
            "ci_prob": self.raw["ci_prob"],
        }
        spec["config_sha256"] = canonical_hash(spec)
        return spec

    @cached_property
    def config_sha256(self) -> str:
        return analysis_sha256(self.raw)

    def report_settings(self, dataset: str) -> dict:
        """What a dataset's report needs from the config (a job param)."""
        return {
            "dataset": self.dataset(dataset),
            "loso": self.loso(dataset),
            "ci_prob": self.raw["ci_prob"],
            "preset": self.raw["preset"],
            "config_sha256": self.config_sha256,
        }

    # -- semantic checks -----------------------------------------------------------

    def _check(self) -> None:
        if "index" in self.datasets:  # reports/index.html is the page that links the reports
            raise ConfigError("config key datasets.index: the name 'index' is reserved")
        for name in self.datasets:
            self._check_dataset(name)

    def _check_dataset(self, name: str) -> None:
        spec = self.dataset(name)
        where = key_path("datasets", name)
        columns = spec["columns"]
        source = spec["source"]
        url = source.get("url", "https://")
        if not (
            url.startswith("https://") or (self.raw["allow_http"] and url.startswith("http://"))
        ):
            raise ConfigError(
                f"{where}.source.url: only https:// URLs are fetched "
                f"(set allow_http: true for a local http mirror): {url!r}"
            )
        if "generator" in source:
            from replication_ladder.datasets import check_generator_params

            check_generator_params(source["generator"], source["params"], f"{where}.source")
        for column in spec["dropna"]:
            if column not in columns:
                raise ConfigError(f"{where}.dropna: {column!r} is not in {where}.columns")
        site = spec["site"]
        if site is not None and site not in columns:
            raise ConfigError(f"{where}.site: {site!r} is not in {where}.columns")
        if site is not None and column_type(columns[spec["site"]]) != "category":
            raise ConfigError(f"{where}.site: column {spec['site']!r} must have type category")
        replication = spec["replication"]
        if replication and replication["treatment"] not in columns:
            raise ConfigError(
                f"{where}.replication.treatment: {replication['treatment']!r} "
                f"is not in {where}.columns"
            )
        for model, entry in spec["models"].items():
            self._check_model(name, model, entry)
        if spec["models"]:
            responses = {m: self.model_columns(name, m)[0] for m in spec["models"]}
            if len(set(responses.values())) > 1:
                listed = ", ".join(f"{m}: {r}" for m, r in responses.items())
                raise ConfigError(
                    f"{where}.models: the rungs model different outcomes "
                    f"({listed}); a ladder compares models of one outcome"
                )
        self._check_predict(name)

    def _check_predict(self, dataset: str) -> None:
        spec = self.dataset(dataset)
        predict = spec["predict"]
        where = key_path("datasets", dataset, "predict")
        if predict is None:
            return
        if not spec["models"]:
            raise ConfigError(f"{where}: there is no model to predict with")
        if "holdout" in predict and not spec["source"].get("params", {}).get("holdout"):
            raise ConfigError(
                f"{where}.holdout: datasets.{dataset}.source.params.holdout "
                "must hold some rows out (a synthetic dataset)"
            )
        if "grid" in predict:
            given, wanted = set(predict["grid"]), set(self.predictors(dataset))
            for column in sorted(wanted - given):
                raise ConfigError(f"{where}.grid: predictor column {column!r} is missing")
            for column in sorted(given - wanted):
                raise ConfigError(
                    f"{where}.grid: {column!r} is not a predictor of any rung "
                    f"(predictors: {', '.join(sorted(wanted))})"
                )

    def _check_model(self, dataset: str, model: str, entry: dict) -> None:
        from replication_ladder.models import check_sampler_available

        where = key_path("datasets", dataset, "models", model)
        columns = self.dataset(dataset)["columns"]
        try:
            check_sampler_available(self.sampling(dataset, model)["sampler"], where)
        except ModelError as error:
            raise ConfigError(str(error)) from None
        if entry["kind"] == "pymc":
            from replication_ladder.builders import resolve_builder

            resolve_builder(entry["builder"], f"{where}.builder")
            if entry.get("priors"):
                raise ConfigError(f"{where}.priors: a pymc model sets its priors in its builder")
            return
        variables, terms, _ = _formula_terms(entry["formula"], f"{where}.formula")
        missing = sorted(variables - set(columns))
        if missing:
            raise ConfigError(
                f"{where}.formula: column {missing[0]!r} is not in datasets.{dataset}.columns "
                f"(declared: {', '.join(columns)})"
            )
        family = entry["family"]
        if family not in FAMILY_PARAMETERS:
            raise ConfigError(
                f"{where}.family: unknown family {family!r} "
                f"(Bambi offers: {', '.join(sorted(FAMILY_PARAMETERS))})"
            )
        allowed = terms | set(FAMILY_PARAMETERS[family])
        for term, prior in entry.get("priors", {}).items():
            if term not in allowed:
                raise ConfigError(
                    f"{where}.priors: term {term!r} is not in the formula "
                    f"(terms: {', '.join(sorted(allowed))})"
                )
            _check_prior(prior, f"{where}.priors.{term}")


def column_type(declared: str | dict) -> str:
    """The type name of a column declaration (`number` or `{type: category, ...}`)."""
    return declared if isinstance(declared, str) else declared["type"]
