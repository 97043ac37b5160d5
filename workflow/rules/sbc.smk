# Simulation-based calibration (`make sbc`; not part of the default run): replicates in
# batched jobs, each compiling its rung once; ranks gathered and tested per rung.


rule sbc:
    input:
        code("sbc"),
        kind_code,
        data=fit_data,
    output:
        paths.SBC_BATCH,
    log:
        "logs/sbc/{dataset}/{model}/batch{batch}.log",
    wildcard_constraints:
        batch=r"\d+",
    conda:
        "../envs/ladder.yaml"
    threads: lambda wildcards: sbc_sampling(wildcards)["chains"]
    resources:
        mem_mb=sized(sizes.fit_mem_mb, sampling=sbc_sampling),
        runtime=sized(sizes.fit_runtime, sbc_refits, sbc_sampling),
        cpus_per_task=lambda wildcards, threads: threads,
        attempt=attempt,
    params:
        spec=lambda wildcards: LADDER.sbc_spec(wildcards.dataset, wildcards.model),
    script:
        "../scripts/sbc.py"


rule sbc_ranks:
    input:
        code("sbc_ranks"),
        batches=lambda wildcards: [
            paths.at(paths.SBC_BATCH, batch=batch, **wildcards)
            for batch in range(LADDER.sbc_batches())
        ],
    output:
        ranks=paths.SBC_RANKS,
        uniformity=paths.SBC_SUMMARY,
    log:
        "logs/sbc_ranks/{dataset}/{model}.log",
    retries: 0
    localrule: True
    conda:
        "../envs/ladder.yaml"
    resources:
        attempt=attempt,
    params:
        spec=lambda wildcards: LADDER.sbc_spec(wildcards.dataset, wildcards.model),
        # The R-hat line a replicate's chains are judged by (not in the batches' spec).
        convergence=LADDER.fit_settings()["convergence"],
    script:
        "../scripts/sbc_ranks.py"
