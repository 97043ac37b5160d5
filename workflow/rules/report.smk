# Reports: a papermill notebook per dataset, converted to HTML, and an index page; and
# the calibration report of `make sbc`. They read only the files their rule declares:
# editing the template or the report code reruns these jobs and nothing upstream. They
# are light, so on a cluster they run where Snakemake runs, never in the queue.


rule report:
    input:
        code("report", notebook=notebook("report")),
        template=notebook("report"),
        artefacts=lambda wildcards: paths.leaves(report_inputs(wildcards.dataset)),
    output:
        notebook=paths.REPORT["notebook"],
        html=report(
            paths.REPORT["html"],
            caption="../report/dataset.rst",
            category="{dataset}",
            subcategory="report",
        ),
        figures=report(
            directory(paths.REPORT["figures"]),
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
    retries: 0
    localrule: True
    conda:
        "../envs/ladder.yaml"
    resources:
        attempt=attempt,
    params:
        settings=lambda wildcards: LADDER.report_settings(wildcards.dataset),
        inputs=lambda wildcards: report_inputs(wildcards.dataset),
    script:
        "../scripts/report.py"


rule report_index:
    input:
        code("report_index"),
        reports=[paths.at(paths.REPORT["html"], dataset=d) for d in LADDER.datasets],
        diagnostics=paths.DIAGNOSTICS_TABLE,
        verdicts=paths.leaves(index_inputs()),
    output:
        report(paths.REPORT_INDEX, caption="../report/index.rst", category="Overview"),
    log:
        "logs/report_index.log",
    retries: 0
    localrule: True
    conda:
        "../envs/ladder.yaml"
    resources:
        attempt=attempt,
    params:
        datasets=index_inputs(),
        ci_prob=LADDER.raw["ci_prob"],
    script:
        "../scripts/report_index.py"


rule sbc_report:
    input:
        code("sbc_report", notebook=notebook("sbc")),
        template=notebook("sbc"),
        artefacts=paths.leaves(sbc_report_inputs()),
    output:
        notebook=paths.SBC_REPORT["notebook"],
        html=report(
            paths.SBC_REPORT["html"],
            caption="../report/sbc.rst",
            category="Calibration",
        ),
        figures=directory(paths.SBC_REPORT["figures"]),
    log:
        "logs/sbc_report.log",
    retries: 0
    localrule: True
    conda:
        "../envs/ladder.yaml"
    resources:
        attempt=attempt,
    params:
        inputs=sbc_report_inputs(),
    script:
        "../scripts/sbc_report.py"
