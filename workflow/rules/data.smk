# Data: fetch or generate each dataset's raw file, validate it, and (for the two-stage
# analysis) estimate the treatment effect in each site from participant means.


rule fetch_data:
    input:
        code("fetch_data"),
        # A local file is an input: editing it fails its checksum or, unpinned, reruns
        # everything downstream.
        source=lambda wildcards: LADDER.dataset(wildcards.dataset)["source"].get(
            "path", []
        ),
    output:
        paths.RAW,
    log:
        "logs/fetch_data/{dataset}.{extension}.log",
    wildcard_constraints:
        dataset=one_of(LADDER.datasets_by_source("url", "path")),
        extension=r"[a-z]+",
    retries: 0
    localrule: True
    conda:
        "../envs/ladder.yaml"
    resources:
        attempt=attempt,
    params:
        # Only the source itself: switching to a mirror must not refetch anything.
        source=lambda wildcards: LADDER.dataset(wildcards.dataset)["source"],
    script:
        "../scripts/fetch_data.py"


rule simulate_data:
    input:
        code("simulate_data"),
    output:
        data=paths.at(paths.RAW, dataset="{dataset}", extension="csv"),
        truth=paths.TRUTH,
        # Rows generated alike but kept out of the fit (none unless params.holdout).
        holdout=paths.HOLDOUT,
    log:
        "logs/simulate_data/{dataset}.log",
    wildcard_constraints:
        dataset=one_of(LADDER.synthetic_datasets),
    retries: 0
    localrule: True
    conda:
        "../envs/ladder.yaml"
    resources:
        attempt=attempt,
    params:
        source=lambda wildcards: LADDER.dataset(wildcards.dataset)["source"],
    script:
        "../scripts/simulate_data.py"


# A checkpoint: leave-one-site-out needs the sites, which only the data can tell.
checkpoint validate_data:
    input:
        code("validate_data"),
        raw=lambda wildcards: raw_file(wildcards.dataset),
    output:
        table=paths.PROCESSED,
        record=paths.RECORD,
    log:
        "logs/validate_data/{dataset}.log",
    retries: 0
    localrule: True
    conda:
        "../envs/ladder.yaml"
    resources:
        attempt=attempt,
    params:
        spec=lambda wildcards: LADDER.data_spec(wildcards.dataset),
    script:
        "../scripts/validate_data.py"


rule site_estimates:
    input:
        code("site_estimates"),
        data=paths.PROCESSED,
    output:
        paths.SITES,
    log:
        "logs/site_estimates/{dataset}.log",
    wildcard_constraints:
        dataset=one_of(LADDER.two_stage_datasets),
    retries: 0
    localrule: True
    conda:
        "../envs/ladder.yaml"
    resources:
        attempt=attempt,
    params:
        spec=lambda wildcards: LADDER.sites_spec(wildcards.dataset),
    script:
        "../scripts/site_estimates.py"
