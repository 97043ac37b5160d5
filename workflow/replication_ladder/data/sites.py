"""Per-site effect estimates from participant means: the first stage of the two-stage
analysis replication reports publish (and the data of the `meta_analysis` rung).

Each participant's ratings are averaged first, per condition (they rated several stimuli:
their ratings are not independent); then, per site:
  between participants (each in one condition): the difference of the conditions' means
    of participant means, with the SE of a difference of two independent means,
    sqrt(s1^2/n1 + s0^2/n0);
  within participants (each in both): the mean of the participants' differences
    (treatment minus control) with its SE, sd(difference) / sqrt(n) (metafor's "MC").
Which one the data are is read from them (treatment_design) unless the config declares
it (`design: {within: [...]}`), which is then checked against them.
"""

import logging

import numpy as np
import pandas as pd

from replication_ladder.data import effect_sizes
from replication_ladder.base.atomic import write_parquet
from replication_ladder.base.errors import DataError

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
    "design",  # between or within participants
    "correlation",  # within: of a participant's two condition means (NaN between)
]
# A treatment varying within at least this share of participants is a within design;
# above zero and below it, the data are refused as ambiguous unless the config says.
WITHIN_SHARE = 0.5
# The columns a meta-analysis rung reads, and their types: the `columns` of a
# summary-level dataset, whose processed table is this one.
MODELLED_COLUMNS = {"site": "category", "effect": "number", "se": "number"}


def treatment_design(data: pd.DataFrame, participant: str | None, treatment: str, site=None):
    """`between` or `within`: whether participants have rows in one condition or in both.
    Refused when some are and most are not (a participant column that is no participant,
    or a design the config must state)."""
    if participant is None:
        return "between"
    keys = [site, participant] if site else [participant]
    conditions = data.groupby(keys, observed=True)[treatment].nunique()
    share = float((conditions > 1).mean())
    if share >= WITHIN_SHARE:
        return "within"
    if share > 0:
        raise DataError(
            f"{100 * share:.0f}% of participants ({participant!r}) have rows in both "
            f"conditions of {treatment!r} and the rest in one: neither a between- nor a "
            "within-participant design; declare it (design: {within: [...]} or "
            "{between: [...]}) or check the participant column"
        )
    return "between"


def participant_means(
    data: pd.DataFrame,
    site: str,
    participant: str | None,
    treatment: str,
    outcome: str,
    design: str = "between",
) -> pd.DataFrame:
    """One row per participant (within site) and condition: `treated` and the mean
    outcome. Between participants each has one row; within, each has two, and those
    with rows in only one condition are left out (said in the log). Without a
    participant column, each row is a participant."""
    if participant is None:
        frame = data[[site, treatment, outcome]].copy()
        return frame.rename(columns={site: "site", treatment: "treated", outcome: "mean"})
    keys = [site, participant]
    if design == "between":
        grouped = data.groupby(keys, observed=True)
        mixed = grouped[treatment].nunique()
        mixed = mixed[mixed > 1]
        if not mixed.empty:
            (site_level, who), *_ = mixed.index
            raise DataError(
                f"participant {who!r} of site {site_level!r} has rows in both conditions of "
                f"{treatment!r}, in a design between participants (declared or read from "
                "the data): declare design: {within: [" + treatment + "]} if it is within"
            )
        means = grouped.agg(treated=(treatment, "first"), mean=(outcome, "mean")).reset_index()
        return means.rename(columns={site: "site"}).drop(columns=[participant])
    cells = data.groupby([*keys, treatment], observed=True)[outcome].mean().reset_index()
    complete = cells.groupby(keys, observed=True)[treatment].transform("nunique") == 2
    if (~complete).any():
        dropped = cells.loc[~complete, keys].drop_duplicates()
        log.warning(
            "%d participants have rows in only one condition of %r and are left out of "
            "the paired site estimates",
            len(dropped),
            treatment,
        )
    cells = cells[complete].rename(columns={site: "site", treatment: "treated", outcome: "mean"})
    return cells.rename(columns={participant: "participant"})


def per_site_effects(means: pd.DataFrame, unit: str = "raw", design: str = "between"):
    """Per site: participants and mean per condition, the effect in `unit` (raw, d or g
    between participants, raw, dz or dav within: replication_ladder.data.effect_sizes) and its
    standard error."""
    if design == "within":
        return per_site_paired(means, unit)
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
    table["design"] = "between"
    table["correlation"] = np.nan
    return table[COLUMNS]


def per_site_paired(cells: pd.DataFrame, unit: str = "raw") -> pd.DataFrame:
    """Per site of a within-participant design: each condition's mean and SD of
    participant means, their correlation, and the mean difference (or dz, dav) with its
    standard error from the participants' differences."""
    wide = cells.pivot_table(
        index=["site", "participant"], columns="treated", values="mean", observed=True
    )
    rows = []
    for level, part in wide.groupby(level="site", observed=True, sort=True):
        if len(part) < 3:
            log.warning("site %s: %d participants with both conditions: left out", level, len(part))
            continue
        control, treated = part[0], part[1]
        rows.append(
            {
                "site": str(level),
                **{f"n_{arm}": len(part) for arm in ("control", "treatment")},
                "mean_control": control.mean(),
                "mean_treatment": treated.mean(),
                "sd_control": control.std(ddof=1),
                "sd_treatment": treated.std(ddof=1),
                "correlation": float(np.corrcoef(control, treated)[0, 1]),
            }
        )
    if len(rows) < 2:
        raise DataError(
            f"only {len(rows)} site(s) have at least 3 participants in both conditions: "
            "too few for a meta-analysis"
        )
    table = pd.DataFrame(rows)
    table["effect"], table["se"] = effect_sizes.from_pairs(
        *(table[c] for c in ("mean_treatment", "sd_treatment", "mean_control", "sd_control")),
        table["correlation"],
        table["n_treatment"],
        unit,
    )
    table["outcome_sd"] = effect_sizes.paired_standardizer(
        table["sd_treatment"], table["sd_control"], table["correlation"], table["n_treatment"], unit
    )
    table["design"] = "within"
    return table[COLUMNS]


def on_scale(data: pd.DataFrame, outcome: str, scale: str) -> pd.DataFrame:
    """The outcome on the verdict's scale: its log for a log ratio (positive values
    only), as it is for the outcome's own units."""
    if scale == "outcome":
        return data
    if scale != "log":
        raise DataError(
            f"site estimates on the {scale} scale are not computed from participant means; "
            "a summary file of the sites' effects on it can be read instead"
        )
    values = data[outcome].to_numpy(float)
    if (values <= 0).any():
        raise DataError(f"column {outcome!r} has values <= 0: no log ratio of them")
    return data.assign(**{outcome: np.log(values)})
