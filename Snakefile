# Replication Ladder: fetch, validate, fit a ladder of Bayesian models, compare them,
# check recovery and render reports. Rules live in workflow/rules, logic in the
# replication_ladder package (workflow/replication_ladder).
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


# Names as the schema allows them: they become parts of paths.
wildcard_constraints:
    dataset=r"[a-z][a-z0-9_]*",
    model=r"[a-z][a-z0-9_]*",


include: "workflow/rules/data.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
