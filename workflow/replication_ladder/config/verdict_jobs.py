"""The params of the verdict's and the report's jobs."""

from replication_ladder.base.hashing import canonical_hash
from replication_ladder.base.seeds import derive_seed


class VerdictJobs:
    """A part of `Ladder` (config/ladder.py): the params of the verdict's and the report's jobs."""

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
            "effect_scales": {m: self.effect_scale(dataset, m) for m in self.models(dataset)},
            "loo_compared": compared,
        }

    def design_analysis_spec(self, dataset: str) -> dict:
        """What the verdict's operating characteristics need (a job param): the original,
        the test prior, and the meta-analysis priors (the dataset's rung's, else the
        builder's defaults)."""
        replication = self.dataset(dataset)["replication"]
        rung = self.meta_analysis_rung(dataset)
        spec = {
            "dataset": dataset,
            "original": replication["original"],
            "effect_size": self.dataset(dataset)["effect_size"],
            "ci_prob": self.raw["ci_prob"],
            "rung": self.model_spec(dataset, rung)
            if rung
            else {
                "dataset": dataset,
                "model": "design_analysis",
                "builder": "replication_ladder.models.builders.meta_analysis",
                "priors": {},
                "effect_size": self.dataset(dataset)["effect_size"],
                "treatment": replication["treatment"],
                "site": self.dataset(dataset)["site"],
            },
            **self.raw["design_analysis"],
            "seed": derive_seed(self.seed, dataset, "design_analysis"),
        }
        if replication.get("test_prior"):
            spec["test_prior"] = replication["test_prior"]
        return spec

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
