# Shared helpers: the validated config (checked before any job runs) and target lists.
import json
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


def dataset_files(wildcards, pattern):
    """`pattern` (with {model}) under results/{dataset}/ for every model of the ladder."""
    return [
        f"results/{wildcards.dataset}/{pattern.format(model=model)}"
        for model in LADDER.models(wildcards.dataset)
    ]


def loso_refits(wildcards):
    """One refit per (model, site); the sites are known once the data is validated."""
    record = checkpoints.validate_data.get(dataset=wildcards.dataset).output.record
    n_sites = len(json.loads(Path(record).read_text())["site_levels"])
    return [
        f"results/{wildcards.dataset}/loso/{model}/site{index}.json"
        for model in LADDER.models(wildcards.dataset)
        for index in range(n_sites)
    ]


def all_targets():
    return [
        *(
            f"results/{dataset}/{model}/summary.parquet"
            for dataset, model in LADDER.fits()
        ),
        "results/diagnostics.parquet",
        *(
            f"results/{dataset}/loo.parquet"
            for dataset in LADDER.datasets
            if LADDER.models(dataset)
        ),
        *(
            f"results/{dataset}/recovery.parquet"
            for dataset in LADDER.synthetic_datasets
        ),
        "results/recovery.parquet",
        *(f"results/{d}/replication.json" for d in LADDER.replication_datasets),
        *(f"results/{d}/loso.parquet" for d in LADDER.datasets if LADDER.loso(d)),
    ]
