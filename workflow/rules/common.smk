# Shared helpers: the validated config (checked before any job runs) and target lists.
import json
from pathlib import Path

import replication_ladder
from replication_ladder import resources as sizes
from replication_ladder.config import Ladder

LADDER = Ladder(config)
PACKAGE = Path(replication_ladder.__file__).parent


def one_of(names):
    """A wildcard regex matching exactly these names (none when the list is empty)."""
    return "|".join(names) if names else "(?!)"


def code(*modules):
    """The package modules a job executes, as inputs: editing one reruns its jobs."""
    return [str(PACKAGE / f"{module}.py") for module in modules]


def sized(estimate):
    """A resource of a (dataset, model) job from its rows and draws, grown by attempt:
    estimate is one of replication_ladder.resources' fit_mem_mb, fit_runtime, loo_mem_mb.
    """

    def resource(wildcards, input, attempt):
        sampling = LADDER.sampling(wildcards.dataset, wildcards.model)
        return estimate(sizes.rows_in(input.data), sampling, attempt)

    return resource


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


def new_rows_source(wildcards):
    """The file new rows come from: the held-out rows, the user's file, or none (grid)."""
    predict = LADDER.dataset(wildcards.dataset)["predict"]
    if "holdout" in predict:
        return [f"data/raw/{wildcards.dataset}.holdout.csv"]
    return [predict["file"]] if "file" in predict else []


def report_fit_inputs(wildcards):
    """Every per-fit artefact a dataset's report reads."""
    names = ["posterior.nc", "summary.parquet", "diagnostics.json", "priors.txt"]
    names += ["ppc.parquet", "loo_pointwise.parquet"]
    return [
        path for name in names for path in dataset_files(wildcards, f"{{model}}/{name}")
    ]


def report_tables(wildcards):
    """The dataset-level tables a report reads: those this dataset has."""
    dataset = wildcards.dataset
    tables = [f"results/{dataset}/loo.parquet"]
    if dataset in LADDER.synthetic_datasets:
        tables.append(f"results/{dataset}/recovery.parquet")
    if dataset in LADDER.replication_datasets:
        tables.append(f"results/{dataset}/replication.json")
    if LADDER.loso(dataset):
        tables += [
            f"results/{dataset}/loso.parquet",
            f"results/{dataset}/loso_sites.parquet",
        ]
    if dataset in LADDER.predicted_datasets:
        tables += dataset_files(wildcards, "{model}/predictions.parquet")
    return tables


def all_targets():
    reported = LADDER.reported_datasets
    return [
        "results/diagnostics.parquet",
        "results/recovery.parquet",
        *(f"reports/{dataset}.html" for dataset in reported),
        "reports/index.html",
    ]
