# Comparison: PSIS-LOO per fit, the ladder compared per dataset, parameter recovery on
# synthetic data, the replication verdict, and leave-one-site-out refits.


rule loo:
    input:
        code("compare", "refit", "models"),
        posterior="results/{dataset}/{model}/posterior.nc",
        data="data/processed/{dataset}.parquet",
    output:
        pointwise="results/{dataset}/{model}/loo_pointwise.parquet",
        scores="results/{dataset}/{model}/loo.json",
    log:
        "logs/loo/{dataset}/{model}.log",
    conda:
        "../../environment.yml"
    resources:
        mem_mb=sized(sizes.loo_mem_mb),
    params:
        spec=lambda wildcards: LADDER.model_spec(wildcards.dataset, wildcards.model),
        settings=config["loo"],
    script:
        "../scripts/loo.py"


rule compare:
    input:
        code("compare"),
        scores=lambda wildcards: dataset_files(wildcards, "{model}/loo.json"),
        pointwise=lambda wildcards: dataset_files(
            wildcards, "{model}/loo_pointwise.parquet"
        ),
    output:
        "results/{dataset}/loo.parquet",
    log:
        "logs/compare/{dataset}.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        models=lambda wildcards: LADDER.models(wildcards.dataset),
    script:
        "../scripts/compare.py"


rule recovery:
    input:
        code("recovery"),
        truth="data/raw/{dataset}.truth.json",
        summaries=lambda wildcards: dataset_files(wildcards, "{model}/summary.parquet"),
    output:
        "results/{dataset}/recovery.parquet",
    log:
        "logs/recovery/{dataset}.log",
    wildcard_constraints:
        dataset=one_of(LADDER.synthetic_datasets),
    localrule: True
    conda:
        "../../environment.yml"
    params:
        models=lambda wildcards: LADDER.models(wildcards.dataset),
    script:
        "../scripts/recovery.py"


rule recovery_table:
    input:
        expand("results/{dataset}/recovery.parquet", dataset=LADDER.synthetic_datasets),
    output:
        "results/recovery.parquet",
    log:
        "logs/recovery_table.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        datasets=LADDER.synthetic_datasets,
    script:
        "../scripts/recovery_table.py"


rule replication:
    input:
        code("replication"),
        posteriors=lambda wildcards: dataset_files(wildcards, "{model}/posterior.nc"),
        priors=lambda wildcards: dataset_files(wildcards, "{model}/priors.json"),
        loo="results/{dataset}/loo.parquet",
    output:
        "results/{dataset}/replication.json",
    log:
        "logs/replication/{dataset}.log",
    wildcard_constraints:
        dataset=one_of(LADDER.replication_datasets),
    localrule: True
    conda:
        "../../environment.yml"
    params:
        models=lambda wildcards: LADDER.models(wildcards.dataset),
        replication=lambda wildcards: LADDER.dataset(wildcards.dataset)["replication"],
        site=lambda wildcards: LADDER.dataset(wildcards.dataset)["site"],
    script:
        "../scripts/replication.py"


rule loso_refit:
    input:
        code("loso", "refit", "models"),
        data="data/processed/{dataset}.parquet",
        record="data/processed/{dataset}.json",
    output:
        "results/{dataset}/loso/{model}/site{index}.json",
    log:
        "logs/loso_refit/{dataset}/{model}/site{index}.log",
    wildcard_constraints:
        index=r"\d+",
    conda:
        "../../environment.yml"
    threads: lambda wildcards: LADDER.sampling(wildcards.dataset, wildcards.model)["chains"]
    resources:
        mem_mb=sized(sizes.fit_mem_mb),
        runtime=sized(sizes.fit_runtime),
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        spec=lambda wildcards: LADDER.model_spec(wildcards.dataset, wildcards.model),
        site=lambda wildcards: LADDER.dataset(wildcards.dataset)["site"],
    script:
        "../scripts/loso_refit.py"


rule loso:
    input:
        code("loso"),
        parts=loso_refits,
    output:
        table="results/{dataset}/loso.parquet",
        sites="results/{dataset}/loso_sites.parquet",
    log:
        "logs/loso/{dataset}.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/loso.py"


rule new_rows:
    input:
        code("predict", "validation"),
        data="data/processed/{dataset}.parquet",
        source=lambda wildcards: new_rows_source(wildcards),
    output:
        "data/new/{dataset}.parquet",
    log:
        "logs/new_rows/{dataset}.log",
    wildcard_constraints:
        dataset=one_of(LADDER.predicted_datasets),
    localrule: True
    conda:
        "../../environment.yml"
    params:
        spec=lambda wildcards: LADDER.new_rows_spec(wildcards.dataset),
    script:
        "../scripts/new_rows.py"


rule predict:
    input:
        code("predict", "models"),
        data="data/processed/{dataset}.parquet",
        rows="data/new/{dataset}.parquet",
        posterior="results/{dataset}/{model}/posterior.nc",
    output:
        "results/{dataset}/{model}/predictions.parquet",
    log:
        "logs/predict/{dataset}/{model}.log",
    wildcard_constraints:
        dataset=one_of(LADDER.predicted_datasets),
    conda:
        "../../environment.yml"
    params:
        spec=lambda wildcards: LADDER.model_spec(wildcards.dataset, wildcards.model),
        response=lambda wildcards: LADDER.response(wildcards.dataset),
    script:
        "../scripts/predict.py"
