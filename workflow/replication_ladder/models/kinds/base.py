"""What a rung kind answers. The config asks it while planning (the columns a rung
reads, the rows it is fitted to, whether it models the design) and to check an entry;
a fit asks it for the rows it can use and to build the model."""

from abc import ABC, abstractmethod

import pandas as pd


class RungKind(ABC):
    """One value of a model entry's `kind:`. `entry` is the entry as the config holds it
    (defaults filled); `where` its key path, for errors."""

    required: tuple[str, ...] = ()  # the entry's keys this kind cannot do without

    def builder(self, entry: dict, where: str):
        """The hand-written model's builder (builders.py), for a kind that has one."""
        return None

    @abstractmethod
    def columns(self, entry: dict, where: str) -> tuple[str, list[str]]:
        """The response column and the predictor columns."""

    def group_factors(self, entry: dict, where: str) -> frozenset[str]:
        """The columns whose levels get parameters of their own (resources.DataSize)."""
        return frozenset()

    def level(self, entry: dict, where: str) -> str:
        """`rows` (fitted to the processed table) or `sites` (to per-site estimates)."""
        return "rows"

    @abstractmethod
    def likelihood(self, entry: dict, where: str) -> str:
        """`continuous` or `discrete`: what a LOO score of the rung is a log of."""

    @abstractmethod
    def respects_design(self, entry: dict, clusters: set[str], where: str) -> bool:
        """Whether the rung models each clustering column in `clusters` (site,
        participant)."""

    def family(self, entry: dict) -> str | None:
        """Bambi's family, for a kind that has one."""
        return None

    def effect_scale(self, entry: dict) -> str:
        """What the treatment's coefficient is a difference of (families.Family)."""
        return "outcome"

    def auxiliary_parameters(self, entry: dict) -> tuple[str, ...]:
        """Parameters that are not effects (a family's sigma), left out of the report's
        table of common effects."""
        return ()

    def code_modules(self, entry: dict) -> list[str]:
        """Modules, beyond the package's own, that a fit of the entry runs."""
        return []

    @abstractmethod
    def description(self, entry: dict) -> str:
        """The report's one-line HTML description of the rung."""

    @abstractmethod
    def check(self, entry: dict, dataset: dict, model_spec: dict, where: str) -> None:
        """Raise ConfigError naming the key when the entry cannot be fitted to the
        dataset (its config block, defaults filled); `model_spec` is the fit's spec."""

    def usable_rows(self, spec: dict, data: pd.DataFrame, where: str) -> pd.DataFrame:
        """The rows of `data` the rung can be fitted to."""
        return data

    @abstractmethod
    def build(self, spec: dict, data: pd.DataFrame, where: str):
        """The rung (rungs.Rung) for a fit's spec on its usable rows."""
