"""What each rung is, asked of its kind (kinds.KINDS)."""

from replication_ladder.config.schema import key_path
from replication_ladder.models.kinds import kind_of


class RungQueries:
    """A part of `Ladder` (config/ladder.py): what each rung is, asked of its kind (kinds.KINDS)."""

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

    def group_factors(self, dataset: str, model: str) -> frozenset[str]:
        """The columns whose levels get parameters of their own (sizing a job)."""
        return self.kind(dataset, model).group_factors(
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
        """The dataset's first rung whose builder is `averaged` (model averaging takes its
        priors), or None."""
        return next(
            (
                m
                for m in self.models(dataset)
                if getattr(self.builder(dataset, m), "averaged", False)
            ),
            None,
        )

    def row_models(self, dataset: str) -> list[str]:
        return [m for m in self.models(dataset) if self.rung_level(dataset, m) == "rows"]

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
        site, or a random-effects meta-analysis of the sites' estimates (a fixed-effect
        one does not: it assumes the sites alike)."""
        spec = self.dataset(dataset)
        needed = {column for column in (spec["site"], spec["participant"]) if column}
        entry = self.rung(dataset, model)
        return self.kind(dataset, model).respects_design(entry, needed, self.where(dataset, model))

    def effect_scale(self, dataset: str, model: str) -> str:
        """What a rung's treatment coefficient is a difference of: the outcome's units, a
        log ratio, log odds or a latent variable's (families.Family.effect_scale). Only a
        rung on the scale the replication states can be the verdict's. A rung of site
        effects is on theirs: computed on the replication's scale, or read as given."""
        replication = self.dataset(dataset)["replication"]
        if replication and self.rung_level(dataset, model) == "sites":
            return replication["scale"]
        if replication and dataset in self.summary_datasets:
            return replication["scale"]
        return self.kind(dataset, model).effect_scale(self.rung(dataset, model))
