"""The params of simulation-based calibration."""

import math

from replication_ladder.base.hashing import canonical_hash
from replication_ladder.base.seeds import derive_seed


class SbcJobs:
    """A part of `Ladder` (config/ladder.py): the params of simulation-based calibration."""

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

    def sbc_sampling(self, dataset: str, model: str) -> dict:
        """A rung's sampling as it is fitted, unless the calibration's settings say
        otherwise (a test's few draws)."""
        settings = self.sbc()
        overrides = {key: settings[key] for key in ("draws", "tune", "chains") if key in settings}
        return {**self.sampling(dataset, model), **overrides}

    def sbc_spec(self, dataset: str, model: str) -> dict:
        """A rung's model spec, sampled as `sbc_sampling` says."""
        settings = self.sbc()
        spec = self.model_spec(dataset, model)
        spec["sampling"] = self.sbc_sampling(dataset, model)
        spec["sbc"] = {
            "replicates": settings["replicates"],
            "batch_size": settings["batch_size"],
            "bayes_factor": settings["bayes_factor"],
            "seed": derive_seed(self.seed, dataset, model, "sbc"),
        }
        spec["config_sha256"] = canonical_hash(spec)
        return spec
