"""The workflow's config: defaults, schema validation, semantic checks and job settings.

`Ladder(config)` is what the Snakefile builds, in every process that parses it (the
main one and each cluster job alike). It fills every default into `config` itself, so
that a minimal dataset block and its explicit form are the same dict everywhere; then a
bad key fails before any job runs with a message naming its key path
(`datasets.rrr.models.fixed.formula`). Each job receives plain dicts (its params) whose
hash changes exactly when its result would.

Jobs never import this module: they get what they need as params.
"""

import contextlib
import copy
import functools
import math
from pathlib import Path
from typing import Any

import yaml

from replication_ladder.columns import column_type
from replication_ladder.effect_sizes import LABELS as EFFECT_LABELS
from replication_ladder.errors import ConfigError
from replication_ladder.hashing import canonical_hash
from replication_ladder.kinds import KINDS, kind_of
from replication_ladder.priors import check_prior
from replication_ladder.readers import FORMATS, source_format
from replication_ladder.seeds import derive_seed
from replication_ladder.sites import MODELLED_COLUMNS as SUMMARY_COLUMNS

PROJECT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = PROJECT / "config" / "schema.yaml"
SHIPPED_CONFIG = PROJECT / "config" / "config.yaml"


def key_path(*parts: Any) -> str:
    return ".".join(str(part) for part in parts)


# -- schema: defaults, command-line values, validation ---------------------------------


@functools.cache
def load_schema(schema_path: Path = SCHEMA_PATH) -> dict:
    """The schema file, with what the registry of rung kinds says: the values `kind` may
    take and the keys each kind requires."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    model = schema["$defs"]["model"]
    model["properties"]["kind"]["enum"] = list(KINDS)
    model["allOf"] = [
        {
            "if": {"properties": {"kind": {"const": name}}, "required": ["kind"]},
            "then": {"required": list(kind.required)},
        }
        for name, kind in KINDS.items()
    ]
    return schema


def _resolve(node: dict, schema: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        node = schema["$defs"][node["$ref"].split("/")[-1]]
    return node


def _default(node: dict, schema: dict) -> tuple[bool, Any]:
    """(whether the schema gives a default, the default); a `$ref` may carry its own."""
    if "default" in node:
        return True, node["default"]
    resolved = _resolve(node, schema)
    return ("default" in resolved, resolved.get("default"))


def fill_defaults(value: Any, node: dict, schema: dict) -> None:
    """Set every missing key that has a `default` in the schema, in place, at any depth
    (mappings of named entries too: every dataset, every model)."""
    resolved = _resolve(node, schema)
    if not isinstance(value, dict) or not isinstance(resolved, dict):
        return
    properties = resolved.get("properties", {})
    for key, sub in properties.items():
        has_default, default = _default(sub, schema)
        if key not in value and has_default:
            value[key] = copy.deepcopy(default)
        if key in value:
            fill_defaults(value[key], sub, schema)
    extra = resolved.get("additionalProperties")
    if isinstance(extra, dict):
        for key, item in value.items():
            if key not in properties:
                fill_defaults(item, extra, schema)


_JSON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
_JSON_TYPES["NoneType"] = "null"


def _types(node: dict, schema: dict) -> set[str]:
    node = _resolve(node, schema)
    declared = node.get("type", [])
    types = set(declared if isinstance(declared, list) else [declared])
    if "enum" in node:
        types |= {_JSON_TYPES[type(value).__name__] for value in node["enum"]}
    return types


def _subschema(node: dict, key: str, schema: dict) -> dict | None:
    node = _resolve(node, schema)
    if key in node.get("properties", {}):
        return node["properties"][key]
    extra = node.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def coerce_cli_values(config: dict, schema_path: Path = SCHEMA_PATH) -> None:
    """Turn strings from nested --config values into the numbers or booleans the schema
    expects, in place. Snakemake reads nested --config values with YAML's BaseLoader, so
    `--config 'sampling={draws: 200}'` arrives as the string '200'."""
    schema = load_schema(schema_path)

    def walk(node: dict | None, value: dict) -> None:
        for key, item in value.items():
            # No schema below a free-form mapping (a generator's params): YAML decides.
            sub = _subschema(node, key, schema) if node is not None else None
            if isinstance(item, dict):
                walk(sub, item)
            elif isinstance(item, list):
                items = _resolve(sub or {}, schema).get("items")
                for i, element in enumerate(item):
                    if isinstance(element, str) and "string" not in _types(items or {}, schema):
                        with contextlib.suppress(yaml.YAMLError):
                            item[i] = yaml.safe_load(element)
            elif isinstance(item, str) and "string" not in _types(sub or {}, schema):
                # Unparsable text stays as it is, and validation names the key.
                with contextlib.suppress(yaml.YAMLError):
                    value[key] = yaml.safe_load(item)

    walk(schema, config)


def _schema_error_message(error) -> str:
    # oneOf/anyOf failures hide the useful message among their sub-errors.
    from jsonschema.exceptions import best_match

    if error.context:
        error = best_match(error.context)
    where = key_path(*error.absolute_path) or "(top level)"
    return f"config key {where}: {error.message}"


def validate_schema(config: dict, schema_path: Path = SCHEMA_PATH) -> None:
    """Check `config` against the JSON schema (jsonschema's best error, with its path)."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    validator = Draft202012Validator(load_schema(schema_path))
    error = best_match(validator.iter_errors(config))
    if error is not None:
        raise ConfigError(_schema_error_message(error))


@functools.cache
def shipped_dataset_names(path: Path = SHIPPED_CONFIG) -> frozenset[str]:
    return frozenset(yaml.safe_load(Path(path).read_text()).get("datasets", {}))


# -- the ladder -------------------------------------------------------------------------------


def converts_original(spec: dict) -> bool:
    """Whether a dataset's original effect is given in another unit than its per-site
    effects (raw against d or g): the verdict converts it with the sites' pooled SD."""
    unit = ((spec.get("replication") or {}).get("original") or {}).get("unit")
    standardized = spec.get("effect_size", "raw") != "raw"
    return unit is not None and (unit != "raw") != standardized


class Ladder:
    """The config with defaults filled and presets applied, checked, and the per-job
    settings derived from it."""

    def __init__(
        self,
        config: dict,
        *,
        schema_path: Path = SCHEMA_PATH,
        shipped_config: Path = SHIPPED_CONFIG,
    ):
        schema = load_schema(schema_path)
        coerce_cli_values(config, schema_path)
        fill_defaults(config, schema, schema)
        if config.get("default_datasets") is False:
            dropped = shipped_dataset_names(shipped_config) & set(config.get("datasets") or {})
            for name in dropped:
                del config["datasets"][name]
            if dropped and not config["datasets"]:
                raise ConfigError(
                    "default_datasets: false dropped every dataset "
                    f"({', '.join(sorted(dropped))}): "
                    f"they are those of {shipped_config}; the key is for a config file of your "
                    "own, given with --configfile (make run CONFIG=...), beside that file"
                )
            # The shipped calibration settings name shipped datasets: they go with them.
            config["sbc"]["datasets"] = [d for d in config["sbc"]["datasets"] if d not in dropped]
        validate_schema(config, schema_path)
        for name, spec in config["datasets"].items():
            self._fill_dataset(spec, key_path("datasets", name))
        validate_schema(config, schema_path)  # the filled-in values too
        self.raw = config
        self.preset = self._preset()
        self._check()

    @staticmethod
    def _fill_dataset(spec: dict, where: str) -> None:
        """Defaults that depend on other keys of the dataset."""
        if "summary" in spec:
            if spec.get("columns", SUMMARY_COLUMNS) != SUMMARY_COLUMNS:  # filled: the same
                raise ConfigError(
                    f"{where}: a summary-level dataset (summary:) has no columns: key; its "
                    "rows become the table of per-site effects (site, effect, se)"
                )
            # The rows the rungs see are those of the per-site table the data stage writes.
            spec["columns"] = dict(SUMMARY_COLUMNS)
            spec["site"] = "site"
            spec["participant"] = None
            spec["dropna"] = []
        spec.setdefault("dropna", list(spec["columns"]))
        replication = spec["replication"]
        if replication and not converts_original(spec):
            effect = replication["original"]["effect"]
            # A converted original's default is set by the verdict's job, in the data's unit.
            replication.setdefault(
                "test_prior", {"dist": "Normal", "mu": 0.0, "sigma": abs(float(effect))}
            )
        if replication:
            treatment = spec["columns"].get(replication["treatment"])
            if "contrast" not in replication and treatment == "binary":
                replication["contrast"] = [0, 1]
            elif (
                "contrast" not in replication
                and isinstance(treatment, dict)
                and len(treatment["levels"]) == 2
            ):
                replication["contrast"] = list(treatment["levels"])

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

    def raw_extension(self, dataset: str) -> str:
        """The extension the raw file keeps in data/raw/: the source's own format."""
        if self.source_kind(dataset) == "generator":
            return "csv"
        return source_format(self.dataset(dataset)["source"])

    @property
    def synthetic_datasets(self) -> list[str]:
        return self.datasets_by_source("generator")

    @property
    def replication_datasets(self) -> list[str]:
        return [name for name in self.datasets if self.dataset(name)["replication"]]

    @property
    def summary_datasets(self) -> list[str]:
        """Datasets read from a summary-level file: their rows are the sites."""
        return [name for name in self.datasets if "summary" in self.dataset(name)]

    @property
    def two_stage_datasets(self) -> list[str]:
        """Trial-level replication datasets with sites: their per-site estimates are
        computed from participant means."""
        return [
            name
            for name in self.replication_datasets
            if self.dataset(name)["site"] is not None and name not in self.summary_datasets
        ]

    @property
    def site_level_datasets(self) -> list[str]:
        """Datasets with a rung fitted to per-site estimates (data/processed/X.sites)."""
        return [
            name
            for name in self.datasets
            if any(self.rung_level(name, m) == "sites" for m in self.models(name))
        ]

    def models(self, dataset: str) -> list[str]:
        return list(self.dataset(dataset)["models"])

    def fits(self) -> list[tuple[str, str]]:
        return [(dataset, model) for dataset in self.datasets for model in self.models(dataset)]

    def rung(self, dataset: str, model: str) -> dict:
        return self.dataset(dataset)["models"][model]

    def kind(self, dataset: str, model: str):
        """The rung's kind (kinds.KINDS), which answers for it."""
        return kind_of(self.rung(dataset, model), self.where(dataset, model))

    @staticmethod
    def where(dataset: str, model: str) -> str:
        return key_path("datasets", dataset, "models", model)

    def builder(self, dataset: str, model: str):
        return self.kind(dataset, model).builder(
            self.rung(dataset, model), self.where(dataset, model)
        )

    def rung_level(self, dataset: str, model: str) -> str:
        """`rows` (fitted to the processed table) or `sites` (to per-site estimates). A
        summary-level dataset's processed table is its per-site estimates: rows."""
        if dataset in self.summary_datasets:
            return "rows"
        return self.kind(dataset, model).level(
            self.rung(dataset, model), self.where(dataset, model)
        )

    def meta_analysis_rung(self, dataset: str) -> str | None:
        """The dataset's first random-effects meta-analysis rung (model averaging takes
        its priors), or None."""
        from replication_ladder.builders import MetaAnalysis

        return next(
            (
                m
                for m in self.models(dataset)
                if isinstance(builder := self.builder(dataset, m), MetaAnalysis) and builder.random
            ),
            None,
        )

    @property
    def averaged_datasets(self) -> list[str]:
        """Datasets whose meta-analysis is also model-averaged."""
        return [name for name in self.datasets if self.meta_analysis_rung(name)]

    def model_averaging_spec(self, dataset: str) -> dict:
        """What the model-averaged meta-analysis needs (a job param)."""
        rung = self.meta_analysis_rung(dataset)
        return {
            "dataset": dataset,
            "rung": self.model_spec(dataset, rung),
            **self.raw["model_averaging"],
            "ci_prob": self.raw["ci_prob"],
            "seed": derive_seed(self.seed, dataset, "model_averaging"),
        }

    def row_models(self, dataset: str) -> list[str]:
        return [m for m in self.models(dataset) if self.rung_level(dataset, m) == "rows"]

    def loso(self, dataset: str) -> bool:
        spec = self.dataset(dataset)
        return spec["site"] is not None and (spec["loso"] or self.preset.get("loso", False))

    def loso_models(self, dataset: str) -> list[str]:
        return self.row_models(dataset) if self.loso(dataset) else []

    def sampling(self, dataset: str, model: str) -> dict:
        """Global defaults, then the model's own settings, then the preset's."""
        return {
            **self.raw["sampling"],
            **self.rung(dataset, model)["sampling"],
            **self.preset.get("sampling", {}),
        }

    def model_columns(self, dataset: str, model: str) -> tuple[str, list[str]]:
        """A rung's response column and its predictor columns."""
        return self.kind(dataset, model).columns(
            self.rung(dataset, model), self.where(dataset, model)
        )

    def response(self, dataset: str) -> str:
        """The outcome every row-level rung of a dataset models (checked to be the same)."""
        return self.model_columns(dataset, self.row_models(dataset)[0])[0]

    def predictors(self, dataset: str) -> list[str]:
        """Every column some row-level rung predicts from, in the dataset's column order."""
        used = {
            column
            for model in self.row_models(dataset)
            for column in self.model_columns(dataset, model)[1]
        }
        return [column for column in self.dataset(dataset)["columns"] if column in used]

    def family(self, dataset: str, model: str) -> str | None:
        return self.kind(dataset, model).family(self.rung(dataset, model))

    def likelihood_kind(self, dataset: str, model: str) -> str:
        """`continuous` or `discrete`: what a LOO score of this rung is a log of."""
        entry = self.rung(dataset, model)
        return self.kind(dataset, model).likelihood(entry, self.where(dataset, model))

    def respects_design(self, dataset: str, model: str) -> bool:
        """A rung respects the design when it models every level of clustering the data
        have: a group-level term for the participant (when ratings repeat) and for the
        site, or a two-stage analysis of participant means per site."""
        spec = self.dataset(dataset)
        if self.rung_level(dataset, model) == "sites":
            return True
        needed = {column for column in (spec["site"], spec["participant"]) if column}
        entry = self.rung(dataset, model)
        return self.kind(dataset, model).respects_design(entry, needed, self.where(dataset, model))

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
        return [name for name in self.datasets if self.dataset(name)["predict"]]

    def data_spec(self, dataset: str) -> dict:
        """What reading and validating the raw file needs (a job param: changes rerun it)."""
        spec = self.dataset(dataset)
        replication = spec["replication"] or {}
        source = spec["source"]
        return {
            "dataset": dataset,
            "format": self.raw_extension(dataset),
            "read": source.get("read", {}),
            "columns": spec["columns"],
            "rename": spec["rename"],
            "dropna": spec["dropna"],
            "site": spec["site"],
            "participant": spec["participant"],
            "treatment": replication.get("treatment"),
            "contrast": replication.get("contrast"),
            "pinned": "sha256" in source,
            "summary": spec.get("summary"),
            "effect_size": spec["effect_size"],
        }

    def sites_spec(self, dataset: str) -> dict:
        """What the per-site two-stage estimates need (a job param)."""
        spec = self.dataset(dataset)
        return {
            "dataset": dataset,
            "site": spec["site"],
            "participant": spec["participant"],
            "treatment": spec["replication"]["treatment"],
            "outcome": self.response(dataset),
            "effect_size": spec["effect_size"],
        }

    def model_spec(self, dataset: str, model: str) -> dict:
        """Everything a fit's draws and summary depend on; its hash is the model's config
        hash. Convergence thresholds and strictness are not in it: they judge a fit
        without changing it, so changing them must not rerun finished fits."""
        entry = self.rung(dataset, model)
        replication = self.dataset(dataset)["replication"] or {}
        spec = {
            "dataset": dataset,
            "model": model,
            "kind": entry["kind"],
            "level": self.rung_level(dataset, model),
            "formula": entry.get("formula"),
            "family": self.family(dataset, model),
            "builder": entry.get("builder"),
            "priors": entry["priors"],
            # Terms without a stated prior get the outcome-scale rule (priors.py).
            "outcome_range": self.dataset(dataset)["outcome"]["range"],
            "sampling": self.sampling(dataset, model),
            "seed": derive_seed(self.seed, dataset, model),
            "ci_prob": self.raw["ci_prob"],
            # The pooled effect's row is named after the treatment column in every rung.
            "treatment": replication.get("treatment"),
            "site": self.dataset(dataset)["site"],
            "participant": self.dataset(dataset)["participant"],
        }
        spec["config_sha256"] = canonical_hash(spec)
        return spec

    def fit_settings(self) -> dict:
        """How a fit is judged (a job param; not in the model's hash)."""
        return {
            "convergence": self.raw["convergence"],
            "strict": self.raw["strict_convergence"],
        }

    def loo_settings(self, dataset: str) -> dict:
        """LOO's settings, with the k-fold split shared by every rung of the dataset:
        a seed of the dataset's own and the participant column to group rows by."""
        return {
            **self.raw["loo"],
            "kfold_seed": derive_seed(self.seed, dataset, "kfold"),
            "kfold_group": self.dataset(dataset)["participant"],
        }

    def refits_in_loo(self, dataset: str, model: str) -> int:
        """Most refits a rung's LOO job may run for its remedy (sizes its resources)."""
        loo = self.raw["loo"]
        if loo["remedy"] == "none":
            return 0
        return max(loo["max_reloo"], loo["kfold_folds"])

    def comparison_spec(self, dataset: str) -> dict:
        """Which rungs the LOO table compares, and why the others are left out."""
        rows = self.row_models(dataset)
        kinds = {m: self.likelihood_kind(dataset, m) for m in rows}
        main = "continuous" if "continuous" in kinds.values() else "discrete"
        excluded = {
            m: "fitted to per-site estimates, not to the rows: another likelihood"
            for m in self.models(dataset)
            if m not in rows
        }
        excluded |= {
            m: f"a {kind} likelihood: its log score is not on the scale of the {main} ones"
            for m, kind in kinds.items()
            if kind != main
        }
        return {
            "dataset": dataset,
            "compared": [m for m in rows if kinds[m] == main],
            "excluded": excluded,
        }

    def replication_spec(self, dataset: str) -> dict:
        """The verdict's inputs (a job param)."""
        spec = self.dataset(dataset)
        replication = spec["replication"]
        compared = self.comparison_spec(dataset)["compared"]
        return {
            "dataset": dataset,
            **replication,
            "effect_size": spec["effect_size"],
            "site": spec["site"],
            "ci_prob": self.raw["ci_prob"],
            "outcome": self.outcome(dataset),
            "models": self.models(dataset),
            "respects_design": [
                m for m in self.models(dataset) if self.respects_design(dataset, m)
            ],
            "latent_scale": [m for m in self.models(dataset) if self.latent_scale(dataset, m)],
            "loo_compared": compared,
        }

    def prior_predictive_spec(self, dataset: str) -> dict:
        """What the prior predictive check of a dataset's ladder needs (a job param: a
        change of any rung's priors or of the settings reruns it)."""
        spec = self.dataset(dataset)
        return {
            "dataset": dataset,
            "response": self.response(dataset),
            "range": spec["outcome"]["range"],
            "settings": dict(self.raw["prior_predictive"]),
            "models": {m: self.model_spec(dataset, m) for m in self.models(dataset)},
        }

    def latent_scale(self, dataset: str, model: str) -> bool:
        """A rung whose treatment coefficient is not a difference on the outcome's scale
        (a formula rung of any family but the gaussian: a logit, an ordinal threshold
        model): the verdict's priors, SESOI and original effect are in outcome units."""
        return self.kind(dataset, model).latent_scale(self.rung(dataset, model))

    def outcome(self, dataset: str) -> dict:
        """The outcome's label and unit, for reports."""
        spec = self.dataset(dataset)
        outcome = spec["outcome"]
        if dataset in self.summary_datasets:
            label = f"per-site effect ({EFFECT_LABELS[spec['effect_size']]})"
            return {"label": outcome["label"] or label, "unit": outcome["unit"]}
        return {"label": outcome["label"] or self.response(dataset), "unit": outcome["unit"]}

    def recovery_spec(self, dataset: str) -> dict:
        return {
            "dataset": dataset,
            "models": self.models(dataset),
            "levels": {m: self.rung_level(dataset, m) for m in self.models(dataset)},
            "ci_prob": self.raw["ci_prob"],
        }

    def report_settings(self, dataset: str) -> dict:
        """What a dataset's report needs from the config (a job param), with its hash:
        the report is rendered again when these change, and only then (not for an edit
        of another dataset's block)."""
        settings = {
            "dataset": dataset,
            "spec": self.dataset(dataset),
            "models": self.models(dataset),
            "levels": {m: self.rung_level(dataset, m) for m in self.models(dataset)},
            # What each rung's kind says of it: the report does not read kinds itself.
            "descriptions": {
                m: self.kind(dataset, m).description(self.rung(dataset, m))
                for m in self.models(dataset)
            },
            "auxiliary": {
                m: list(self.kind(dataset, m).auxiliary_parameters(self.rung(dataset, m)))
                for m in self.models(dataset)
            },
            "outcome": self.outcome(dataset),
            "loso": self.loso(dataset),
            "ci_prob": self.raw["ci_prob"],
            "preset": self.raw["preset"],
        }
        return {**settings, "settings_sha256": canonical_hash(settings)}

    # -- simulation-based calibration ------------------------------------------------

    def sbc(self) -> dict:
        return {**self.raw["sbc"], **self.preset.get("sbc", {})}

    def sbc_fits(self) -> list[tuple[str, str]]:
        settings = self.sbc()
        rungs = settings["rungs"]
        return [
            (dataset, model)
            for dataset in settings["datasets"]
            for model in self.models(dataset)
            if rungs is None or model in rungs
        ]

    def sbc_batches(self) -> int:
        settings = self.sbc()
        return math.ceil(settings["replicates"] / settings["batch_size"])

    def sbc_spec(self, dataset: str, model: str) -> dict:
        """A rung's model spec with the calibration's sampling settings."""
        settings = self.sbc()
        spec = self.model_spec(dataset, model)
        spec["sampling"] = {
            **spec["sampling"],
            **{key: settings[key] for key in ("draws", "tune", "chains")},
        }
        spec["sbc"] = {
            "replicates": settings["replicates"],
            "batch_size": settings["batch_size"],
            "seed": derive_seed(self.seed, dataset, model, "sbc"),
        }
        spec["config_sha256"] = canonical_hash(spec)
        return spec

    # -- semantic checks -----------------------------------------------------------

    def _check(self) -> None:
        if "index" in self.datasets or "sbc" in self.datasets:
            raise ConfigError(
                "config key datasets: the names 'index' and 'sbc' are reserved (report pages)"
            )
        for name in self.datasets:
            self._check_dataset(name)
        for name in self.raw["sbc"]["datasets"]:
            if name not in self.raw["datasets"]:
                raise ConfigError(
                    f"config key sbc.datasets: {name!r} is not a dataset "
                    f"(datasets: {', '.join(self.datasets)})"
                )

    def _check_dataset(self, name: str) -> None:
        spec = self.dataset(name)
        where = key_path("datasets", name)
        columns = spec["columns"]
        self._check_source(name)
        for column in spec["dropna"]:
            if column not in columns:
                raise ConfigError(f"{where}.dropna: {column!r} is not in {where}.columns")
        for original, renamed in spec["rename"].items():
            if renamed not in columns:
                raise ConfigError(
                    f"{where}.rename.{original}: {renamed!r} is not in {where}.columns"
                )
        for key in ("site", "participant"):
            column = spec[key]
            if column is not None and column not in columns:
                raise ConfigError(f"{where}.{key}: {column!r} is not in {where}.columns")
        if spec["site"] is not None and column_type(columns[spec["site"]]) != "category":
            raise ConfigError(f"{where}.site: column {spec['site']!r} must have type category")
        if spec["replication"]:
            self._check_replication(name)
        for model, entry in spec["models"].items():
            self._check_model(name, model, entry)
        rows = self.row_models(name)
        if not rows:
            raise ConfigError(f"{where}.models: at least one rung must model the rows")
        responses = {m: self.model_columns(name, m)[0] for m in rows}
        if len(set(responses.values())) > 1:
            listed = ", ".join(f"{m}: {r}" for m, r in responses.items())
            raise ConfigError(
                f"{where}.models: the rungs model different outcomes "
                f"({listed}); a ladder compares models of one outcome"
            )
        self._check_predict(name)

    def _check_source(self, name: str) -> None:
        source = self.dataset(name)["source"]
        where = key_path("datasets", name, "source")
        url = source.get("url", "https://")
        if not (
            url.startswith("https://") or (self.raw["allow_http"] and url.startswith("http://"))
        ):
            raise ConfigError(
                f"{where}.url: only https:// URLs are fetched "
                f"(set allow_http: true for a local http mirror): {url!r}"
            )
        if "generator" in source:
            from replication_ladder.datasets import check_generator_params

            check_generator_params(source["generator"], source["params"], where)
            if "read" in source:
                raise ConfigError(f"{where}.read: a generator writes CSV; there is nothing to read")
            return
        try:
            source_format(source)
        except ValueError as error:
            raise ConfigError(
                f"{where}: {error}; set {where}.read.format to one of {', '.join(FORMATS)}"
            ) from None

    def _check_replication(self, name: str) -> None:
        spec = self.dataset(name)
        replication = spec["replication"]
        where = key_path("datasets", name, "replication")
        treatment = replication["treatment"]
        columns = spec["columns"]
        if name in self.summary_datasets:
            # No treatment column: the name is that of the pooled effect.
            if treatment in (*columns, "theta"):
                raise ConfigError(
                    f"{where}.treatment: in a summary-level dataset it names the pooled "
                    f"effect, and may not be {treatment!r} (a column or a model variable)"
                )
            self._check_test_prior(name)
            return
        if treatment not in columns:
            raise ConfigError(f"{where}.treatment: {treatment!r} is not in datasets.{name}.columns")
        if spec["effect_size"] != "raw":
            raise ConfigError(
                f"datasets.{name}.effect_size: {spec['effect_size']} for a trial-level dataset "
                "with a verdict: its rungs estimate the effect in the outcome's units and the "
                "verdict compares them; keep raw (a summary-level dataset may use d or g)"
            )
        declared = columns[treatment]
        kind = column_type(declared)
        if kind not in ("binary", "category"):
            raise ConfigError(
                f"{where}.treatment: column {treatment!r} has type {kind}; a treatment must be "
                "binary (0/1) or a category with two levels"
            )
        contrast = replication.get("contrast")
        if contrast is None:
            raise ConfigError(
                f"{where}.contrast: say which level of {treatment!r} is the control and which "
                "the treatment, as they appear in the data: contrast: [control, treatment] "
                "(the effect is treatment minus control)"
            )
        if contrast[0] == contrast[1]:
            raise ConfigError(f"{where}.contrast: the two levels must differ: {contrast}")
        if kind == "binary" and sorted(contrast) != [0, 1]:
            raise ConfigError(f"{where}.contrast: a binary treatment's levels are 0 and 1")
        if isinstance(declared, dict):
            levels = [str(level) for level in declared["levels"]]
            for level in contrast:
                if str(level) not in levels:
                    raise ConfigError(
                        f"{where}.contrast: {level!r} is not among the declared levels of "
                        f"{treatment!r} ({', '.join(levels)})"
                    )
        self._check_test_prior(name)

    def _check_test_prior(self, name: str) -> None:
        spec = self.dataset(name)
        replication = spec["replication"]
        where = key_path("datasets", name, "replication")
        if converts_original(spec) and spec["site"] is None:
            raise ConfigError(
                f"{where}.original.unit: converting the original's effect to the data's unit "
                "takes the sites' pooled SD: the dataset needs a site column"
            )
        if "test_prior" not in replication:
            return  # the default, in the data's unit, comes with the converted original
        prior = replication["test_prior"]
        check_prior(prior, f"{where}.test_prior")
        if any(isinstance(value, dict) for value in prior.values()):
            raise ConfigError(
                f"{where}.test_prior: the test's prior must have fixed parameters "
                "(a Bayes factor needs its density at zero)"
            )
        verdict = replication["verdict_model"]
        if verdict is not None and verdict not in spec["models"]:
            raise ConfigError(
                f"{where}.verdict_model: {verdict!r} is not a rung of datasets.{name}.models"
            )
        if verdict is not None and self.latent_scale(name, verdict):
            raise ConfigError(
                f"{where}.verdict_model: {verdict!r} is a {self.family(name, verdict)} rung: its "
                f"{replication['treatment']!r} coefficient is on a latent scale, while the test "
                "prior, the original effect and the SESOI are in the outcome's units; name a "
                "gaussian rung (its outcome-scale effect is in the report beside it)"
            )

    def _check_predict(self, dataset: str) -> None:
        spec = self.dataset(dataset)
        predict = spec["predict"]
        where = key_path("datasets", dataset, "predict")
        if predict is None:
            return
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
        from replication_ladder.samplers import check_sampler_available

        where = self.where(dataset, model)
        kind = self.kind(dataset, model)
        try:
            check_sampler_available(self.sampling(dataset, model)["sampler"], where)
        except Exception as error:
            raise ConfigError(str(error)) from None
        kind.check(entry, self.dataset(dataset), self.model_spec(dataset, model), where)
