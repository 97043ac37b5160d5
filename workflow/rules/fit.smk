# Fits: one job per (dataset, model), as many threads as chains.


rule fit:
    input:
        code("fit", "models"),
        data="data/processed/{dataset}.parquet",
    output:
        posterior="results/{dataset}/{model}/posterior.nc",
        summary="results/{dataset}/{model}/summary.parquet",
        diagnostics="results/{dataset}/{model}/diagnostics.json",
        priors_json="results/{dataset}/{model}/priors.json",
        priors_txt="results/{dataset}/{model}/priors.txt",
        ppc="results/{dataset}/{model}/ppc.parquet",
    log:
        "logs/fit/{dataset}/{model}.log",
    benchmark:
        "results/{dataset}/{model}/benchmark.tsv"
    conda:
        "../../environment.yml"
    threads: lambda wildcards: LADDER.sampling(wildcards.dataset, wildcards.model)["chains"]
    resources:
        mem_mb=sized(sizes.fit_mem_mb),
        runtime=sized(sizes.fit_runtime),
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        spec=lambda wildcards: LADDER.model_spec(wildcards.dataset, wildcards.model),
    script:
        "../scripts/fit.py"


rule diagnostics_table:
    input:
        code("fit"),
        diagnostics=expand(
            "results/{fit[0]}/{fit[1]}/diagnostics.json", fit=LADDER.fits()
        ),
    output:
        "results/diagnostics.parquet",
    log:
        "logs/diagnostics_table.log",
    localrule: True
    conda:
        "../../environment.yml"
    script:
        "../scripts/diagnostics_table.py"
