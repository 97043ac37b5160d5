"""Per-site effect estimates from participant means: the first stage of the two-stage
analysis replication reports publish (and the data of the `meta_analysis` rung).

Each participant's ratings are averaged first (they rated several stimuli: their ratings
are not independent); then, per site, the effect is the difference of the mean of those
participant means between the conditions (treatment minus control), with the standard
error of a difference of two independent means, sqrt(s1^2/n1 + s0^2/n0).
"""

import logging

import numpy as np
import pandas as pd

from replication_ladder import effect_sizes
from replication_ladder.atomic import write_parquet
from replication_ladder.errors import DataError

log = logging.getLogger(__name__)

# Each arm's summaries, as the trial-level route computes them or a summary file gives them.
ARM_COLUMNS = [
    "n_control",
    "n_treatment",
    "mean_control",
    "mean_treatment",
    "sd_control",
    "sd_treatment",
]
COLUMNS = [
    "site",
    *ARM_COLUMNS,
    "effect",
    "se",
    "outcome_sd",  # the SD that converts a standardized effect to the outcome's units
    "effect_size",  # the effect's unit: raw, d or g
]
# The columns a meta-analysis rung reads, and their types: the `columns` of a
# summary-level dataset, whose processed table is this one.
MODELLED_COLUMNS = {"site": "category", "effect": "number", "se": "number"}


def participant_means(
    data: pd.DataFrame, site: str, participant: str | None, treatment: str, outcome: str
) -> pd.DataFrame:
    """One row per participant (within site): their condition and mean outcome. Without a
    participant column, each row is a participant."""
    if participant is None:
        frame = data[[site, treatment, outcome]].copy()
        return frame.rename(columns={site: "site", treatment: "treated", outcome: "mean"})
    keys = [site, participant]
    grouped = data.groupby(keys, observed=True)
    conditions = grouped[treatment].nunique()
    mixed = conditions[conditions > 1]
    if not mixed.empty:
        (site_level, who), *_ = mixed.index
        raise DataError(
            f"participant {who!r} of site {site_level!r} has rows in both conditions of "
            f"{treatment!r}: a two-stage analysis of participant means needs the condition "
            "to vary between participants"
        )
    means = grouped.agg(treated=(treatment, "first"), mean=(outcome, "mean")).reset_index()
    return means.rename(columns={site: "site"}).drop(columns=[participant])


def per_site_effects(means: pd.DataFrame, unit: str = "raw") -> pd.DataFrame:
    """Per site: participants and mean per condition, the effect in `unit` (raw, d or
    g: replication_ladder.effect_sizes) and its standard error."""
    rows = []
    for level, part in means.groupby("site", observed=True, sort=True):
        control = part.loc[part["treated"] == 0, "mean"]
        treated = part.loc[part["treated"] == 1, "mean"]
        if min(len(control), len(treated)) < 2:
            log.warning(
                "site %s: %d control and %d treatment participants; fewer than 2 in a "
                "condition give no standard error, so the site is left out",
                level,
                len(control),
                len(treated),
            )
            continue
        sd0, sd1 = control.std(ddof=1), treated.std(ddof=1)
        rows.append(
            {
                "site": str(level),
                "n_control": len(control),
                "n_treatment": len(treated),
                "mean_control": control.mean(),
                "mean_treatment": treated.mean(),
                "sd_control": sd0,
                "sd_treatment": sd1,
            }
        )
    if len(rows) < 2:
        raise DataError(
            f"only {len(rows)} site(s) have at least 2 participants in each condition: "
            "too few for a meta-analysis"
        )
    table = pd.DataFrame(rows)
    table["effect"], table["se"] = effect_sizes.from_arms(
        *(table[f"{s}_treatment"] for s in ("mean", "sd", "n")),
        *(table[f"{s}_control"] for s in ("mean", "sd", "n")),
        unit,
    )
    # The outcome's scale for the meta-analysis's priors: the SD of participant means
    # within conditions, pooled over sites.
    within = means.groupby(["site", "treated"], observed=True)["mean"]
    deviations = means["mean"] - within.transform("mean")
    table["outcome_sd"] = float(np.sqrt((deviations**2).sum() / (len(means) - within.ngroups)))
    table["effect_size"] = unit
    return table[COLUMNS]


def site_estimates(snakemake) -> None:
    spec = snakemake.params.spec
    means = participant_means(
        pd.read_parquet(snakemake.input.data),
        spec["site"],
        spec["participant"],
        spec["treatment"],
        spec["outcome"],
    )
    table = per_site_effects(means, spec["effect_size"])
    write_parquet(snakemake.output[0], table)
    log.info("%d sites; effects:\n%s", len(table), table[["site", "effect", "se"]])
