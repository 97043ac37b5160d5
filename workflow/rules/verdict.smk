# What the ladder concludes: parameter recovery on synthetic data, the replication
# verdict, and leave-one-site-out cross-validation.


rule recovery:
    input:
        code("recovery"),
        truth=paths.TRUTH,
        summaries=lambda wildcards: fit_files(wildcards.dataset, "summary"),
    output:
        paths.RECOVERY,
    log:
        "logs/recovery/{dataset}.log",
    wildcard_constraints:
        dataset=one_of(LADDER.synthetic_datasets),
    retries: 0
    localrule: True
    conda:
        "../envs/ladder.yaml"
    resources:
        attempt=attempt,
    params:
        spec=lambda wildcards: LADDER.recovery_spec(wildcards.dataset),
    script:
        "../scripts/recovery.py"


rule recovery_table:
    input:
        code("recovery_table"),
        tables=[paths.at(paths.RECOVERY, dataset=d) for d in LADDER.synthetic_datasets],
    output:
        paths.RECOVERY_TABLE,
    log:
        "logs/recovery_table.log",
    retries: 0
    localrule: True
    conda:
        "../envs/ladder.yaml"
    resources:
        attempt=attempt,
    params:
        datasets=LADDER.synthetic_datasets,
    script:
        "../scripts/recovery_table.py"


rule replication:
    input:
        code("replication"),
        posteriors=lambda wildcards: fit_files(wildcards.dataset, "posterior"),
        priors=lambda wildcards: fit_files(wildcards.dataset, "priors_json"),
        loo=paths.COMPARISON,
        # The frequentist reference (REML) is computed from the site estimates.
        sites=site_table,
    output:
        paths.REPLICATION,
    log:
        "logs/replication/{dataset}.log",
    wildcard_constraints:
        dataset=one_of(LADDER.replication_datasets),
    retries: 0
    localrule: True
    conda:
        "../envs/ladder.yaml"
    resources:
        attempt=attempt,
    params:
        spec=lambda wildcards: LADDER.replication_spec(wildcards.dataset),
    script:
        "../scripts/replication.py"


rule model_averaging:
    input:
        code("model_averaging"),
        priors=meta_analysis_priors,
        sites=lambda wildcards: sites_path(wildcards.dataset),
    output:
        paths.MODEL_AVERAGING,
    log:
        "logs/model_averaging/{dataset}.log",
    wildcard_constraints:
        dataset=one_of(LADDER.averaged_datasets),
    retries: 0
    localrule: True
    conda:
        "../envs/ladder.yaml"
    resources:
        attempt=attempt,
    params:
        spec=lambda wildcards: LADDER.model_averaging_spec(wildcards.dataset),
    script:
        "../scripts/model_averaging.py"


rule design_analysis:
    input:
        code("design_analysis"),
        unpack(stated_meta_analysis_priors),
        sites=lambda wildcards: sites_path(wildcards.dataset),
    output:
        paths.DESIGN_ANALYSIS,
    log:
        "logs/design_analysis/{dataset}.log",
    wildcard_constraints:
        dataset=one_of(LADDER.designed_datasets),
    retries: 0
    localrule: True
    conda:
        "../envs/ladder.yaml"
    resources:
        attempt=attempt,
    params:
        spec=lambda wildcards: LADDER.design_analysis_spec(wildcards.dataset),
    script:
        "../scripts/design_analysis.py"


rule loso:
    input:
        code("loso"),
        kind_code,
        data=paths.PROCESSED,
        record=paths.RECORD,
    output:
        paths.LOSO_RUNG,
    log:
        "logs/loso/{dataset}/{model}.log",
    conda:
        "../envs/ladder.yaml"
    threads: sized(sizes.sampling_threads, site_refits)
    resources:
        mem_mb=sized(sizes.fit_mem_mb),
        # One refit per site: about a fit's time per site.
        runtime=sized(sizes.fit_runtime, site_refits),
        cpus_per_task=lambda wildcards, threads: threads,
        attempt=attempt,
    params:
        spec=lambda wildcards: LADDER.model_spec(wildcards.dataset, wildcards.model),
        site=lambda wildcards: LADDER.dataset(wildcards.dataset)["site"],
    script:
        "../scripts/loso.py"


rule loso_table:
    input:
        code("loso_table"),
        parts=lambda wildcards: [
            paths.at(paths.LOSO_RUNG, dataset=wildcards.dataset, model=model)
            for model in LADDER.loso_models(wildcards.dataset)
        ],
    output:
        **paths.LOSO,
    log:
        "logs/loso_table/{dataset}.log",
    retries: 0
    localrule: True
    conda:
        "../envs/ladder.yaml"
    resources:
        attempt=attempt,
    script:
        "../scripts/loso_table.py"
