# Data: fetch or generate each dataset's raw file, then validate it.


rule fetch_data:
    output:
        "data/raw/{dataset}.csv",
    log:
        "logs/fetch_data/{dataset}.log",
    wildcard_constraints:
        dataset=one_of(LADDER.datasets_by_source("url", "path")),
    localrule: True
    conda:
        "../../environment.yml"
    params:
        # Only the source itself: switching to a mirror must not refetch anything.
        source=lambda wildcards: LADDER.dataset(wildcards.dataset)["source"],
    script:
        "../scripts/fetch.py"


rule simulate_data:
    input:
        code("datasets"),
    output:
        data="data/raw/{dataset}.csv",
        truth="data/raw/{dataset}.truth.json",
        # Rows generated alike but kept out of the fit (none unless params.holdout).
        holdout="data/raw/{dataset}.holdout.csv",
    log:
        "logs/simulate_data/{dataset}.log",
    wildcard_constraints:
        dataset=one_of(LADDER.synthetic_datasets),
    localrule: True
    conda:
        "../../environment.yml"
    params:
        source=lambda wildcards: LADDER.dataset(wildcards.dataset)["source"],
    script:
        "../scripts/simulate.py"


# A checkpoint: leave-one-site-out needs the sites, which only the data can tell.
checkpoint validate_data:
    input:
        code("validation"),
        raw="data/raw/{dataset}.csv",
    output:
        table="data/processed/{dataset}.parquet",
        record="data/processed/{dataset}.json",
    log:
        "logs/validate_data/{dataset}.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        spec=lambda wildcards: LADDER.data_spec(wildcards.dataset),
    script:
        "../scripts/validate.py"
