"""Every artefact's path, named once: the rules, the jobs and the reports use these names.

Templates hold Snakemake wildcards ({dataset}, {model}, ...); `at(template, **names)`
fills them. A job never builds a path itself: it gets its files from the rule, by name,
as Snakemake gives them (under a prefix when another workflow uses this one as a module).
"""

from pathlib import Path

# Data: as fetched or generated (raw), then validated (processed).
RAW = "data/raw/{dataset}.{extension}"
TRUTH = "data/raw/{dataset}.truth.json"
HOLDOUT = "data/raw/{dataset}.holdout.csv"
PROCESSED = "data/processed/{dataset}.parquet"
RECORD = "data/processed/{dataset}.json"
SITES = "data/processed/{dataset}.sites.parquet"
NEW_ROWS = "data/new/{dataset}.parquet"

# One fit of one rung: what the fit job writes.
FIT = {
    "posterior": "results/{dataset}/{model}/posterior.nc",
    "summary": "results/{dataset}/{model}/summary.parquet",
    "diagnostics": "results/{dataset}/{model}/diagnostics.json",
    "priors_json": "results/{dataset}/{model}/priors.json",
    "priors_txt": "results/{dataset}/{model}/priors.txt",
    "ppc": "results/{dataset}/{model}/ppc.parquet",
    "psense": "results/{dataset}/{model}/psense.parquet",
    "psis": "results/{dataset}/{model}/psis_loo.parquet",
}
FIT_BENCHMARK = "results/{dataset}/{model}/benchmark.tsv"
FAILED_DIR = "failed"  # beside a fit's artefacts: where a strict fit that failed keeps them

# Per fit, after the fit.
LOO = {
    "pointwise": "results/{dataset}/{model}/loo_pointwise.parquet",
    "scores": "results/{dataset}/{model}/loo.json",
}
PREDICTIONS = "results/{dataset}/{model}/predictions.parquet"
LOSO_RUNG = "results/{dataset}/loso/{model}.parquet"

# Per dataset.
PRIOR_PREDICTIVE = {
    "draws": "results/{dataset}/prior_predictive.parquet",
    "check": "results/{dataset}/prior_predictive.json",
}
COMPARISON = "results/{dataset}/loo.parquet"
RECOVERY = "results/{dataset}/recovery.parquet"
REPLICATION = "results/{dataset}/replication.json"
MODEL_AVERAGING = "results/{dataset}/model_averaging.json"
DESIGN_ANALYSIS = "results/{dataset}/design_analysis.json"
LOSO = {
    "table": "results/{dataset}/loso.parquet",
    "sites": "results/{dataset}/loso_sites.parquet",
}

# Across datasets.
DIAGNOSTICS_TABLE = "results/diagnostics.parquet"
RECOVERY_TABLE = "results/recovery.parquet"

# Simulation-based calibration.
SBC_BATCH = "results/sbc/{dataset}/{model}/batch{batch}.parquet"
SBC_RANKS = "results/sbc/{dataset}/{model}/ranks.parquet"
SBC_SUMMARY = "results/sbc/{dataset}/{model}/uniformity.json"

# Reports.
REPORT = {
    "notebook": "reports/{dataset}.ipynb",
    "html": "reports/{dataset}.html",
    "figures": "reports/{dataset}",
}
REPORT_INDEX = "reports/index.html"
SBC_REPORT = {"notebook": "reports/sbc.ipynb", "html": "reports/sbc.html", "figures": "reports/sbc"}


def at(template, **names):
    """A template (or a dict of them) with its wildcards filled."""
    if isinstance(template, dict):
        return {key: at(value, **names) for key, value in template.items()}
    return template.format(**names)


def sbc_progress(batch: str) -> Path:
    """Where an SBC batch keeps its finished replicates until it is written: beside it,
    so that a killed job's rerun starts after them (not an output: Snakemake would delete
    it before the rerun)."""
    path = Path(batch)
    return path.parent / ".progress" / path.stem


def leaves(nested) -> list:
    """The paths in a nested dict of paths (None for a file a dataset does not have), in
    order: a rule's input list of them."""
    if isinstance(nested, dict):
        return [path for value in nested.values() for path in leaves(value)]
    return [] if nested is None else [nested]


def relocated(nested, given: list):
    """`nested` with its paths replaced, in the order of `leaves`, by those Snakemake gave
    the job for them (prefixed when the workflow runs as a module)."""
    if len(given) != len(leaves(nested)):
        raise ValueError(f"{len(given)} paths given for {len(leaves(nested))}")
    given = iter(given)

    def replace(value):
        if isinstance(value, dict):
            return {key: replace(item) for key, item in value.items()}
        return None if value is None else str(next(given))

    return replace(nested)
