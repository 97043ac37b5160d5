# Fits: one job per (dataset, model), a thread per chain unless sampling is light
# (resources.sampling_threads); before them, the prior predictive check of each ladder.


rule prior_predictive:
    input:
        code("prior_predictive"),
        ladder_kind_code,
        data=paths.PROCESSED,
        sites=site_table,
    output:
        **paths.PRIOR_PREDICTIVE,
    log:
        "logs/prior_predictive/{dataset}.log",
    # Run before the fits it checks, which do not wait for it (their draws do not
    # depend on it).
    priority: 10
    conda:
        "../envs/ladder.yaml"
    resources:
        attempt=attempt,
    params:
        spec=lambda wildcards: LADDER.prior_predictive_spec(wildcards.dataset),
    script:
        "../scripts/prior_predictive.py"


rule fit:
    input:
        code("fit"),
        kind_code,
        data=fit_data,
    output:
        **paths.FIT,
    log:
        "logs/fit/{dataset}/{model}.log",
    benchmark:
        paths.FIT_BENCHMARK
    priority: fit_priority
    conda:
        "../envs/ladder.yaml"
    threads: sized(sizes.sampling_threads)
    resources:
        mem_mb=sized(sizes.fit_mem_mb),
        runtime=sized(sizes.fit_runtime),
        cpus_per_task=lambda wildcards, threads: threads,
        attempt=attempt,
    params:
        spec=lambda wildcards: LADDER.model_spec(wildcards.dataset, wildcards.model),
        settings=LADDER.fit_settings(),
    script:
        "../scripts/fit.py"


rule diagnostics_table:
    input:
        code("diagnostics_table"),
        diagnostics=[
            paths.at(paths.FIT["diagnostics"], dataset=dataset, model=model)
            for dataset, model in LADDER.fits()
        ],
    output:
        paths.DIAGNOSTICS_TABLE,
    log:
        "logs/diagnostics_table.log",
    retries: 0
    localrule: True
    conda:
        "../envs/ladder.yaml"
    resources:
        attempt=attempt,
    script:
        "../scripts/diagnostics_table.py"
