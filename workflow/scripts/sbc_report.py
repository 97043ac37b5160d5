import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parent))  # this checkout's package
from replication_ladder.jobs.runtime import run_job

run_job(snakemake, "sbc_report")  # the rule's name, also when a module renames it
