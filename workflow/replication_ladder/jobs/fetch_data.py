"""The `fetch_data` rule's job: what it reads from Snakemake, handed to
replication_ladder.data.fetch."""

from replication_ladder.data.fetch import fetch_source


def fetch_data(snakemake) -> None:
    fetch_source(
        snakemake.params.source,
        snakemake.output[0],
        mirror=snakemake.config["mirror"],
        download_settings=snakemake.config["download"],
    )
