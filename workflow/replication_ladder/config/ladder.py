"""`Ladder`: the config with defaults filled and presets applied, checked, and the
settings of each job derived from it. Each part is a module of this package, by what it
answers: the datasets, the rungs (asked of their kinds), the params of the data, model,
verdict and calibration jobs; the checks are functions (checks.py)."""

from pathlib import Path

from replication_ladder.base.errors import ConfigError
from replication_ladder.config.checks import check
from replication_ladder.config.data_jobs import DataJobs
from replication_ladder.config.datasets import DatasetQueries, converts_original
from replication_ladder.config.model_jobs import ModelJobs
from replication_ladder.config.reserved import rename_reserved
from replication_ladder.config.rung_queries import RungQueries
from replication_ladder.config.sbc_jobs import SbcJobs
from replication_ladder.config.schema import (
    SCHEMA_PATH,
    SHIPPED_CONFIG,
    coerce_cli_values,
    fill_defaults,
    key_path,
    load_schema,
    order_keys,
    shipped_dataset_names,
    validate_schema,
)
from replication_ladder.config.verdict_jobs import VerdictJobs
from replication_ladder.data.sites import MODELLED_COLUMNS as SUMMARY_COLUMNS


def _keep_only(config: dict) -> None:
    """Leave out the rungs that `only` does not name."""
    for dataset, rungs in config["only"].items():
        where = key_path("only", dataset)
        if dataset not in config["datasets"]:
            known = ", ".join(config["datasets"])
            raise ConfigError(f"config key {where}: there is no dataset {dataset} (known: {known})")
        models = config["datasets"][dataset]["models"]
        unknown = [rung for rung in rungs if rung not in models]
        if unknown:
            raise ConfigError(
                f"config key {where}: {dataset} has no rung {', '.join(unknown)} "
                f"(its rungs: {', '.join(models)})"
            )
        config["datasets"][dataset]["models"] = {rung: models[rung] for rung in rungs}


class Ladder(DatasetQueries, RungQueries, DataJobs, ModelJobs, VerdictJobs, SbcJobs):
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
        _keep_only(config)
        for name, spec in config["datasets"].items():
            if "summary" not in spec:
                rename_reserved(spec)
            self._fill_dataset(spec, key_path("datasets", name))
        validate_schema(config, schema_path)  # the filled-in values too
        order_keys(config, schema, schema)
        self.raw = config
        self.preset = self._preset()
        check(self)

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
