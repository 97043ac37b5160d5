"""The registry of rung kinds: what a model entry's `kind:` may say. A kind is a module
here with a `RungKind` (kinds/base.py) and a line below; the schema's `kind` enum and
each kind's required keys are read from this registry (config.load_schema)."""

import pandas as pd

from replication_ladder.base.errors import ConfigError
from replication_ladder.models.kinds.bambi_formula import BambiFormula
from replication_ladder.models.kinds.base import RungKind
from replication_ladder.models.kinds.pymc_builder import PymcBuilder
from replication_ladder.models.rungs import Rung

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


def build_rung(spec: dict, data: pd.DataFrame) -> Rung:
    """Build the rung `spec` describes on the rows of `data` its kind can use; errors
    name dataset, model and term."""
    from replication_ladder.models.samplers import check_sampler_available

    where = f"datasets.{spec['dataset']}.models.{spec['model']}"
    check_sampler_available(spec["sampling"]["sampler"], f"{where}.sampling.sampler")
    kind = kind_of(spec, where)
    return kind.build(spec, kind.usable_rows(spec, data, where), where)
