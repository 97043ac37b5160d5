"""The config's schema (workflow/schemas/config.schema.yaml, with the rung kinds): defaults
filled into the config itself, values given on the command line coerced to their types,
and validation whose errors name the key."""

import contextlib
import copy
import functools
from pathlib import Path
from typing import Any

import yaml

from replication_ladder.base.errors import ConfigError
from replication_ladder.models.kinds import KINDS

PROJECT = Path(__file__).resolve().parents[3]
SCHEMA_PATH = PROJECT / "workflow" / "schemas" / "config.schema.yaml"
SHIPPED_CONFIG = PROJECT / "config" / "config.yaml"


def key_path(*parts: Any) -> str:
    return ".".join(str(part) for part in parts)


# -- schema: defaults, command-line values, validation ---------------------------------


@functools.cache
def load_schema(schema_path: Path = SCHEMA_PATH) -> dict:
    """The config's JSON schema, completed by the registries.

    Parameters
    ----------
    schema_path : Path
        The schema file (workflow/schemas/config.schema.yaml).

    Returns
    -------
    dict
        The schema, with the values `kind` may take and the keys each kind requires
        (models.kinds.KINDS), and the generators a synthetic source may name
        (data.synthetic.GENERATORS).
    """
    from replication_ladder.data.synthetic import GENERATORS

    schema = yaml.safe_load(Path(schema_path).read_text())
    schema["$defs"]["source"]["properties"]["generator"]["enum"] = list(GENERATORS)
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
    """Set every missing key that has a `default` in the schema, in place.

    Parameters
    ----------
    value : Any
        A config, or a part of one.
    node : dict
        The schema's node for `value`.
    schema : dict
        The whole schema, for its `$ref`s.

    Notes
    -----
    Works at any depth, mappings of named entries too (every dataset, every model).
    """
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


def order_keys(value: Any, node: dict, schema: dict) -> None:
    """Put the keys of every object the schema declares in the schema's order, in place,
    at any depth. The jobs' params carry these objects, and Snakemake reruns a job whose
    params print differently: the order a config file (or Snakemake's merge of several)
    gives its keys in must not count. Maps of named entries (datasets, rungs) keep their
    order, which is the ladder's."""
    resolved = _resolve(node, schema)
    if not isinstance(value, dict) or not isinstance(resolved, dict):
        return
    properties = resolved.get("properties", {})
    if properties:
        ordered = [key for key in properties if key in value]
        ordered += [key for key in value if key not in properties]
        items = {key: value[key] for key in ordered}
        value.clear()
        value.update(items)
    for key, item in value.items():
        sub = _subschema(resolved, key, schema)
        if sub is not None:
            order_keys(item, sub, schema)


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
    """Turn strings from --config values into the numbers, booleans or nulls the schema
    expects, in place.

    Parameters
    ----------
    config : dict
        The config as Snakemake merged it.
    schema_path : Path
        The schema file.

    Notes
    -----
    Snakemake reads nested --config values with YAML's BaseLoader, so `--config
    'sampling={draws: 200}'` arrives as the string '200'.
    """
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
            elif item in ("null", "~") and "null" in _types(sub or {}, schema):
                value[key] = None  # `--config preset=null` undoes a preset

    walk(schema, config)


def _schema_error_message(error) -> str:
    # oneOf/anyOf failures hide the useful message among their sub-errors.
    from jsonschema.exceptions import best_match

    if error.context:
        error = best_match(error.context)
    where = key_path(*error.absolute_path) or "(top level)"
    return f"config key {where}: {error.message}"


def validate_schema(config: dict, schema_path: Path = SCHEMA_PATH) -> None:
    """Check `config` against the JSON schema.

    Raises
    ------
    ConfigError
        jsonschema's best error, with the key path it is at.
    """
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    validator = Draft202012Validator(load_schema(schema_path))
    error = best_match(validator.iter_errors(config))
    if error is not None:
        raise ConfigError(_schema_error_message(error))


@functools.cache
def shipped_dataset_names(path: Path = SHIPPED_CONFIG) -> frozenset[str]:
    return frozenset(yaml.safe_load(Path(path).read_text()).get("datasets", {}))
