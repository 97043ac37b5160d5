"""The params of the data stage's jobs: reading, per-site estimates, new rows, recovery."""


class DataJobs:
    """A part of `Ladder` (config/ladder.py): the params of the data stage's jobs:
    reading, per-site estimates, new rows, recovery."""

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
            "filter": spec["filter"],
            "site": spec["site"],
            "participant": spec["participant"],
            "treatment": replication.get("treatment"),
            "contrast": replication.get("contrast"),
            "pinned": "sha256" in source,
            "summary": spec.get("summary"),
            "effect_size": spec["effect_size"],
            "design": spec["design"],
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
            "design": self.declared_design(dataset, spec["replication"]["treatment"]),
            # On the verdict's scale: a log ratio's sites are differences of mean logs.
            "scale": spec["replication"]["scale"],
        }

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

    def recovery_spec(self, dataset: str) -> dict:
        return {
            "dataset": dataset,
            "models": self.models(dataset),
            "levels": {m: self.rung_level(dataset, m) for m in self.models(dataset)},
            "ci_prob": self.raw["ci_prob"],
        }
