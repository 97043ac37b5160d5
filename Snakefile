# Replication Ladder: fetch, validate, fit a ladder of Bayesian models, compare them,
# check recovery and calibration, and render reports. Rules live in workflow/rules,
# logic in the replication_ladder package (workflow/replication_ladder).
import sys
import time

from snakemake.utils import min_version

min_version("9.0")

# This checkout's package, whatever else is installed (jobs do the same); the directory
# of this file, also when another workflow uses it as a module.
sys.path.insert(0, f"{workflow.current_basedir}/workflow")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


# Names as the schema allows them: they become parts of paths.
wildcard_constraints:
    dataset=r"[a-z][a-z0-9_]*",
    model=r"[a-z][a-z0-9_]*",


include: "workflow/rules/data.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/loo.smk"
include: "workflow/rules/verdict.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/sbc.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),


# A run ends saying what ran, what it reused, its slowest jobs and where the reports are.
RUN_STARTED = time.time()


onsuccess:
    print(run_summary(os.getcwd(), RUN_STARTED, paths.REPORT_INDEX))


# `make sbc`: simulation-based calibration of the rungs named in the config's `sbc`.
rule sbc_all:
    input:
        sbc_targets(),
