# Shared helpers: the validated config (checked before any job runs) and target lists.
from pathlib import Path

import replication_ladder
from replication_ladder.config import Ladder

LADDER = Ladder(config)
PACKAGE = Path(replication_ladder.__file__).parent


def one_of(names):
    """A wildcard regex matching exactly these names (none when the list is empty)."""
    return "|".join(names) if names else "(?!)"


def code(*modules):
    """The package modules a job executes, as inputs: editing one reruns its jobs."""
    return [str(PACKAGE / f"{module}.py") for module in modules]


def all_targets():
    return [
        *expand("data/processed/{dataset}.parquet", dataset=LADDER.datasets),
        *(
            f"results/{dataset}/{model}/summary.parquet"
            for dataset, model in LADDER.fits()
        ),
        "results/diagnostics.parquet",
    ]
