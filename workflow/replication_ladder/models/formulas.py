"""Bambi formulas, read once: the columns a formula uses, its terms as Bambi names them,
its response and its grouping factors. The config checks and plans with it, a fit
builds with it; neither parses a formula another way."""

import functools

from replication_ladder.base.errors import ConfigError


@functools.cache
def formula_terms(formula: str, where: str) -> tuple[frozenset, frozenset, frozenset, frozenset]:
    """The columns a formula reads, the names of its terms (as Bambi names them), the
    columns of its response, and the grouping factors of its group-level terms."""
    import formulae

    try:
        description = formulae.model_description(formula)
    except Exception as error:  # formulae raises several unrelated types
        raise ConfigError(f"{where}: cannot parse formula {formula!r}: {error}") from None
    terms = {term.name for term in description.terms}
    groups = {
        part
        for term in description.terms
        if hasattr(term, "factor")
        for part in term.factor.var_names
    }
    return (
        frozenset(description.var_names),
        frozenset(terms),
        frozenset(description.response.term.var_names),
        frozenset(groups),
    )
