# PSIS-LOO per fit (with the remedy for high Pareto k, which may refit) and the
# comparison of each dataset's ladder.


rule loo:
    input:
        code("loo"),
        kind_code,
        psis=paths.FIT["psis"],
        posterior=paths.FIT["posterior"],  # read only by a remedy
        data=paths.PROCESSED,
    output:
        **paths.LOO,
    log:
        "logs/loo/{dataset}/{model}.log",
    conda:
        "../envs/ladder.yaml"
    # A remedy that refits (reloo, k-fold) runs fits: threads and time like a fit's.
    threads: loo_threads
    resources:
        mem_mb=sized(sizes.loo_mem_mb, loo_refits),
        runtime=sized(sizes.fit_runtime, loo_refits),
        cpus_per_task=lambda wildcards, threads: threads,
        attempt=attempt,
    params:
        spec=lambda wildcards: LADDER.model_spec(wildcards.dataset, wildcards.model),
        settings=lambda wildcards: LADDER.loo_settings(wildcards.dataset),
    script:
        "../scripts/loo.py"


rule compare:
    input:
        code("compare"),
        scores=lambda wildcards: fit_files(
            wildcards.dataset,
            "scores",
            LADDER.comparison_spec(wildcards.dataset)["compared"],
        ),
        pointwise=lambda wildcards: fit_files(
            wildcards.dataset,
            "pointwise",
            LADDER.comparison_spec(wildcards.dataset)["compared"],
        ),
    output:
        paths.COMPARISON,
    log:
        "logs/compare/{dataset}.log",
    retries: 0
    localrule: True
    conda:
        "../envs/ladder.yaml"
    resources:
        attempt=attempt,
    params:
        spec=lambda wildcards: LADDER.comparison_spec(wildcards.dataset),
    script:
        "../scripts/compare.py"
