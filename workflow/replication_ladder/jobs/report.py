"""The `report` rule's job: what it reads from Snakemake, handed to
replication_ladder.report.render."""

from replication_ladder.report.render import render_job


def report(snakemake) -> None:
    render_job(snakemake, f"Replication Ladder: {snakemake.wildcards.dataset}")
