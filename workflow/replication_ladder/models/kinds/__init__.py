"""The registry of rung kinds: what a model entry's `kind:` may say. A kind is a module
here with a `RungKind` (kinds/base.py) and a line below; the schema's `kind` enum and
each kind's required keys are read from this registry (config.load_schema)."""

from replication_ladder.base.errors import ConfigError
from replication_ladder.models.kinds.bambi_formula import BambiFormula
from replication_ladder.models.kinds.base import RungKind
from replication_ladder.models.kinds.pymc_builder import PymcBuilder

KINDS: dict[str, RungKind] = {
    "bambi": BambiFormula(),
    "pymc": PymcBuilder(),
}


def kind_of(entry: dict, where: str) -> RungKind:
    """The kind of a model entry (or of a fit's spec, which carries `kind`)."""
    try:
        return KINDS[entry["kind"]]
    except KeyError:
        raise ConfigError(
            f"{where}.kind: unknown rung kind {entry['kind']!r} (known: {', '.join(KINDS)})"
        ) from None
