"""The `sbc_report` rule's job: what it reads from Snakemake, handed to
replication_ladder.report.render."""

from replication_ladder.report.render import render_job


def sbc_report(snakemake) -> None:
    render_job(snakemake, "Replication Ladder: simulation-based calibration")
