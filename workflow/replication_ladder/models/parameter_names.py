"""Bambi's names for a model's parameters, read in one place.

    condition          a common effect
    C(stimulus)[3]     one level of a categorical common effect (a summary row)
    1|study            a group-level term: the effects of its levels
    condition|study[3] one level's effect (a summary row)
    1|study_sigma      the term's SD
    1|study_offset     its non-centred offsets (a sampler's variable, not a parameter)

The hand-written meta-analysis names its parameters the same way (builders.py).
"""

import re
from dataclasses import dataclass

_NAME = re.compile(r"^(?P<base>[^\[]+?)(?:_(?P<suffix>sigma|offset))?(?:\[(?P<level>.*)\])?$")


@dataclass(frozen=True)
class ParameterName:
    name: str
    effect: str  # before "|", or the whole base name of a common parameter
    group: str | None  # the grouping factor after "|"; None for a common parameter
    suffix: str | None  # "sigma" or "offset" of a group-level term
    level: str | None  # the bracketed level of a summary row

    @property
    def variable(self) -> str:
        """The variable the name belongs to: without its level."""
        return self.name.split("[", 1)[0] if self.level is not None else self.name

    @property
    def group_level(self) -> bool:
        """An effect of a group-level term (per level), not the term's SD."""
        return self.group is not None and self.suffix is None

    @property
    def one_level(self) -> bool:
        """One level's effect of a group-level term, as a summary row names it."""
        return self.group_level and self.level is not None


def parse(name: str) -> ParameterName:
    match = _NAME.match(str(name))
    base, suffix, level = match["base"], match["suffix"], match["level"]
    if "|" not in base:
        # A common parameter whose name happens to end in _sigma is no term's SD.
        base, suffix = (f"{base}_{suffix}", None) if suffix else (base, None)
    effect, _, group = base.partition("|")
    return ParameterName(str(name), effect, group or None, suffix, level)
