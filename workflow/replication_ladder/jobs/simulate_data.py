"""The `simulate_data` rule's job: what it reads from Snakemake, handed to
replication_ladder.data.synthetic."""

from replication_ladder.data.synthetic import write_synthetic


def simulate_data(snakemake) -> None:
    write_synthetic(
        snakemake.params.source,
        snakemake.output.data,
        snakemake.output.truth,
        snakemake.output.holdout,
    )
