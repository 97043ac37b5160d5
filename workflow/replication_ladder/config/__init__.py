"""The workflow's config: defaults, schema validation, semantic checks and job settings.

`Ladder(config)` is what the Snakefile builds, in every process that parses it (the
main one and each cluster job alike). It fills every default into `config` itself, so
that a minimal dataset block and its explicit form are the same dict everywhere; then a
bad key fails before any job runs with a message naming its key path
(`datasets.rrr.models.fixed.formula`). Each job receives plain dicts (its params) whose
hash changes exactly when its result would.

Jobs never import this package: they get what they need as params.
"""

from replication_ladder.config.ladder import Ladder
from replication_ladder.config.schema import key_path, load_schema

__all__ = ["Ladder", "key_path", "load_schema"]
