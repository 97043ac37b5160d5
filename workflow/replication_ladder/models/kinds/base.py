"""What a rung kind answers. The config asks it while planning (the columns a rung
reads, the rows it is fitted to, whether it models the design) and to check an entry;
a fit asks it for the rows it can use and to build the model."""

from abc import ABC, abstractmethod

import pandas as pd


class RungKind(ABC):
    """One value of a model entry's `kind:`; a new kind is a subclass in a module of
    this package and its line in `KINDS`.

    Every method takes the model entry as the config holds it (`entry`, defaults filled)
    or the fit's spec (`spec`, config.Ladder.model_spec), and `where`, the entry's key
    path (`datasets.rrr.models.fixed`) for the errors it raises.

    Attributes
    ----------
    required : tuple of str
        The entry's keys this kind cannot do without (`formula`, `builder`).
    """

    required: tuple[str, ...] = ()  # the entry's keys this kind cannot do without

    def builder(self, entry: dict, where: str):
        """The hand-written model's builder (builders.py), for a kind that has one."""
        return None

    @abstractmethod
    def columns(self, entry: dict, where: str) -> tuple[str, list[str]]:
        """The columns the rung reads.

        Returns
        -------
        tuple of (str, list of str)
            The response column and the predictor columns.
        """

    def group_factors(self, entry: dict, where: str) -> frozenset[str]:
        """The columns whose levels get parameters of their own (resources.DataSize)."""
        return frozenset()

    def level(self, entry: dict, where: str) -> str:
        """`rows` (fitted to the processed table) or `sites` (to per-site estimates)."""
        return "rows"

    @abstractmethod
    def likelihood(self, entry: dict, where: str) -> str:
        """What a LOO score of the rung is a log of.

        Returns
        -------
        str
            `continuous` (a density) or `discrete` (a probability): rungs of the two
            are not compared.
        """

    @abstractmethod
    def respects_design(self, entry: dict, clusters: set[str], where: str) -> bool:
        """Whether the rung models the design, so that a verdict may rest on it.

        Parameters
        ----------
        clusters : set of str
            The dataset's clustering columns (its site, and its participant where a
            participant has several rows).

        Returns
        -------
        bool
            True if the rung has a group-level term for each of them.
        """

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
        """The report's one-line description of the rung.

        Returns
        -------
        str
            HTML, every value from the config escaped.
        """

    @abstractmethod
    def check(self, entry: dict, dataset: dict, model_spec: dict, where: str) -> None:
        """Refuse an entry that cannot be fitted, before any job runs.

        Parameters
        ----------
        dataset : dict
            The dataset's config block, defaults filled.
        model_spec : dict
            The fit's spec.

        Raises
        ------
        ConfigError
            Naming the key (`{where}.formula`, `{where}.priors`) and what is wrong.
        """

    def usable_rows(self, spec: dict, data: pd.DataFrame, where: str) -> pd.DataFrame:
        """The rows of `data` the rung can be fitted to."""
        return data

    @abstractmethod
    def build(self, spec: dict, data: pd.DataFrame, where: str):
        """The model, ready to compile.

        Parameters
        ----------
        data : pandas.DataFrame
            The rows `usable_rows` kept.

        Returns
        -------
        models.rungs.Rung
            The rung: its PyMC model, the rows it swaps in and out, its priors.
        """
