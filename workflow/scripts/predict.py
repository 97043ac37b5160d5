from replication_ladder.runtime import run_job

run_job(snakemake, "replication_ladder.predict:predict_main")
