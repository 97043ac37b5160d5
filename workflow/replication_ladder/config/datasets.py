"""Which datasets there are and what kind each is."""

from replication_ladder.data.effect_sizes import LABELS as EFFECT_LABELS
from replication_ladder.data.readers import source_format


def converts_original(spec: dict) -> bool:
    """Whether a dataset's original effect is given in another unit than its per-site
    effects (raw against d or g): the verdict converts it with the sites' pooled SD."""
    unit = ((spec.get("replication") or {}).get("original") or {}).get("unit")
    standardized = spec.get("effect_size", "raw") != "raw"
    return unit is not None and (unit != "raw") != standardized


class DatasetQueries:
    """A part of `Ladder` (config/ladder.py): which datasets there are and what kind each is."""

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
    def designed_datasets(self) -> list[str]:
        """Replication datasets with site estimates: their verdict's operating
        characteristics are simulated at their sites (design_analysis)."""
        return [
            name
            for name in self.replication_datasets
            if name in self.summary_datasets or name in self.two_stage_datasets
        ]

    @property
    def averaged_datasets(self) -> list[str]:
        """Datasets whose meta-analysis is also model-averaged."""
        return [name for name in self.datasets if self.meta_analysis_rung(name)]

    @property
    def predicted_datasets(self) -> list[str]:
        return [name for name in self.datasets if self.dataset(name)["predict"]]

    def declared_design(self, dataset: str, column: str) -> str | None:
        """`within` or `between` where the config declares the column's design (`design:`),
        else None (the data stage reads it from the data)."""
        design = self.dataset(dataset)["design"]
        return next((kind for kind in ("within", "between") if column in design[kind]), None)

    def models(self, dataset: str) -> list[str]:
        return list(self.dataset(dataset)["models"])

    def fits(self) -> list[tuple[str, str]]:
        return [(dataset, model) for dataset in self.datasets for model in self.models(dataset)]

    def loso(self, dataset: str) -> bool:
        spec = self.dataset(dataset)
        return spec["site"] is not None and (spec["loso"] or self.preset.get("loso", False))

    def loso_models(self, dataset: str) -> list[str]:
        return self.row_models(dataset) if self.loso(dataset) else []

    def outcome(self, dataset: str) -> dict:
        """The outcome's label and unit, for reports."""
        spec = self.dataset(dataset)
        outcome = spec["outcome"]
        if dataset in self.summary_datasets:
            label = f"per-site effect ({EFFECT_LABELS[spec['effect_size']]})"
            return {"label": outcome["label"] or label, "unit": outcome["unit"]}
        return {"label": outcome["label"] or self.response(dataset), "unit": outcome["unit"]}
