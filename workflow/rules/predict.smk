# Predictions for new rows: held-out synthetic rows, a file, or a grid.


rule new_rows:
    input:
        code("new_rows"),
        data=paths.PROCESSED,
        source=lambda wildcards: new_rows_source(wildcards.dataset),
    output:
        paths.NEW_ROWS,
    log:
        "logs/new_rows/{dataset}.log",
    wildcard_constraints:
        dataset=one_of(LADDER.predicted_datasets),
    retries: 0
    localrule: True
    conda:
        "../envs/ladder.yaml"
    resources:
        attempt=attempt,
    params:
        spec=lambda wildcards: LADDER.new_rows_spec(wildcards.dataset),
    script:
        "../scripts/new_rows.py"


rule predict:
    input:
        code("predict"),
        kind_code,
        data=paths.PROCESSED,
        rows=paths.NEW_ROWS,
        posterior=paths.FIT["posterior"],
    output:
        paths.PREDICTIONS,
    log:
        "logs/predict/{dataset}/{model}.log",
    wildcard_constraints:
        dataset=one_of(LADDER.predicted_datasets),
    conda:
        "../envs/ladder.yaml"
    resources:
        attempt=attempt,
    params:
        spec=lambda wildcards: LADDER.model_spec(wildcards.dataset, wildcards.model),
        response=lambda wildcards: LADDER.response(wildcards.dataset),
    script:
        "../scripts/predict.py"
