"""The Snakemake layer: one module per rule holding its `f(snakemake)` entry (its name the
rule's), the job runtime, the code inputs and resources of jobs, the run's summary.
"""
