"""Column declarations of the config: `number`, `integer`, `binary`, `category`, `string`,
or `{type: category, levels: [...]}`."""


def column_type(declared: str | dict) -> str:
    """The type name of a column declaration."""
    return declared if isinstance(declared, str) else declared["type"]


def declared_levels(declared: str | dict) -> list[str] | None:
    """The declared levels of a category, as text, in their order (None if undeclared)."""
    if isinstance(declared, dict):
        return [canonical_level(level) for level in declared["levels"]]
    return None


def canonical_level(value) -> str:
    """A category level as text; whole numbers written as floats (`3.0`) name the same
    level as `3`."""
    token = str(value).strip()
    try:
        number = float(token)
    except ValueError:
        return token
    if number != number or number in (float("inf"), float("-inf")):
        return token
    return str(int(number)) if number.is_integer() else token
