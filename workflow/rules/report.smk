# Reports: a papermill notebook per dataset, converted to HTML, and an index page.
# They read only data/ and results/: editing the template or the report code reruns
# these jobs and nothing upstream. They are light, so on a cluster they run where
# Snakemake runs (the login node), never in the queue.


rule report:
    input:
        code("report", "render"),
        template="workflow/notebooks/report.ipynb",
        data="data/processed/{dataset}.parquet",
        record="data/processed/{dataset}.json",
        fits=lambda wildcards: report_fit_inputs(wildcards),
        tables=lambda wildcards: report_tables(wildcards),
    output:
        notebook="reports/{dataset}.ipynb",
        html=report(
            "reports/{dataset}.html",
            caption="../report/dataset.rst",
            category="{dataset}",
            subcategory="report",
        ),
        figures=report(
            directory("reports/{dataset}"),
            patterns=["{model}.{item}.png", "{model}.{item}.csv"],
            caption="../report/figure.rst",
            category="{dataset}",
            subcategory="{model}",
            labels={"model": "{model}", "figure or table": "{item}"},
        ),
    log:
        "logs/report/{dataset}.log",
    wildcard_constraints:
        dataset=one_of(LADDER.datasets),
    localrule: True
    conda:
        "../../environment.yml"
    params:
        settings=lambda wildcards: LADDER.report_settings(wildcards.dataset),
    script:
        "../scripts/report.py"


rule report_index:
    input:
        code("render", "report"),
        reports=expand("reports/{dataset}.html", dataset=LADDER.reported_datasets),
        diagnostics="results/diagnostics.parquet",
    output:
        report("reports/index.html", caption="../report/index.rst", category="Overview"),
    log:
        "logs/report_index.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        datasets=LADDER.reported_datasets,
    script:
        "../scripts/report_index.py"
