"""The scaffold's summary-level branch: recognise a file of per-site summaries by its
header, and write its dataset block (summary columns, effect size, the two meta-analysis
rungs with priors on the effect's scale).

Recognised headers, as meta-analysis software and papers write them (case and spacing
ignored): each arm's mean, SD and n (`Treated Mean`, `Control Std-Dev`, `n1i`, `sd2`,
`M teeth`...), or an effect with the standard error to its right (`Hedges's g`, `Std
Err`; `yi`, `sei`), or a t statistic with each arm's n.
"""

import re

import numpy as np
import pandas as pd

TREATMENT = re.compile(r"^(treat\w*|exp\w*|intervention|e|t|1)$")
CONTROL = re.compile(r"^(control\w*|ctrl|c|2)$")
STATISTICS = {
    "mean": re.compile(r"^(mean|m|avg|average)$"),
    "sd": re.compile(r"^(sd|stdev|stddev|std-dev)$"),
    "n": re.compile(r"^(n|size|count)$"),
}
# metafor's names: m1i, sd2i, n1i...
COMPACT = re.compile(r"^(m|mean|sd|n)(1|2)i?$")
EFFECTS = {
    "g": re.compile(r"^(g|hedges\W*s?\W*g|hedges g|smd)$"),
    "d": re.compile(r"^(d|cohen\W*s?\W*d|std diff in means|standardized mean difference)$"),
    "raw": re.compile(r"^(md|difference in means|mean difference|raw|yi|effect|es)$"),
}
SE = re.compile(r"^(se|sei|std err|stderr|standard error)(\.\d+)?$")
T = re.compile(r"^(t|t value|t-value|tval)$")
SITE_HINTS = ("study", "lab", "site", "name", "author", "sample")


def _tokens(name: str) -> list[str]:
    words = re.split(r"[^0-9a-z]+", name.lower())
    # "Std-Dev" and "Sample size" are one statistic each.
    joined = " ".join(w for w in words if w)
    joined = joined.replace("std dev", "sd").replace("standard deviation", "sd")
    return joined.replace("sample size", "n").split()


def _arm_statistic(name: str) -> tuple[str, str] | None:
    """(arm, statistic) a column holds, e.g. ("control", "sd"), or None."""
    compact = COMPACT.match(name.lower().replace(" ", ""))
    if compact:
        statistic = {"m": "mean"}.get(compact[1], compact[1])
        return ("treatment" if compact[2] == "1" else "control"), statistic
    tokens = _tokens(name.split(".")[0])
    arms = {
        a
        for a, rule in (("treatment", TREATMENT), ("control", CONTROL))
        for t in tokens
        if rule.match(t)
    }
    statistics = {s for s, rule in STATISTICS.items() for t in tokens if rule.match(t)}
    if len(arms) == 1 and len(statistics) == 1:
        return arms.pop(), statistics.pop()
    return None


def recognise(header: list[str]) -> tuple[dict, str] | None:
    """The `summary` block a header calls for and the effect's unit, or None when the
    file does not look like per-site summaries."""
    arms: dict[tuple[str, str], list[str]] = {}
    for name in header:
        found = _arm_statistic(name)
        if found:
            arms.setdefault(found, []).append(name)
    site = next(
        (n for n in header if any(h in n.lower() for h in SITE_HINTS) and not _arm_statistic(n)),
        header[0],
    )
    wanted = [(arm, s) for arm in ("treatment", "control") for s in STATISTICS]
    if all(len(arms.get(key, [])) == 1 for key in wanted):
        summary = {"site": site}
        for arm in ("treatment", "control"):
            summary[arm] = {s: arms[(arm, s)][0] for s in STATISTICS}
        return summary, "raw"
    lowered = [n.lower() for n in header]
    for position, name in enumerate(lowered):
        unit = next((u for u, rule in EFFECTS.items() if rule.match(name)), None)
        following = lowered[position + 1] if position + 1 < len(lowered) else ""
        if unit and SE.match(following):
            return {"site": site, "effect": header[position], "se": header[position + 1]}, unit
    t = next((h for h, n in zip(header, lowered, strict=True) if T.match(n)), None)
    sizes = [arms.get((arm, "n"), []) for arm in ("treatment", "control")]
    if t and all(len(s) == 1 for s in sizes):
        return {"site": site, "t": t, "n_treatment": sizes[0][0], "n_control": sizes[1][0]}, "d"
    return None


def effect_scale(table: pd.DataFrame, summary: dict, unit: str) -> tuple[float, str]:
    """The scale s the priors are stated in, and where it came from: 1 for a
    standardized effect, else the SD pooled over the arms, else (only effects and
    standard errors given) four times the median standard error, a guess."""
    if unit != "raw":
        return 1.0, "a standardized effect: s = 1 SD"
    if "treatment" in summary:
        n = np.concatenate(
            [table[summary[a]["n"]].to_numpy(float) for a in ("treatment", "control")]
        )
        sd = np.concatenate(
            [table[summary[a]["sd"]].to_numpy(float) for a in ("treatment", "control")]
        )
        pooled = float(np.sqrt(((n - 1) * sd**2).sum() / (n - 1).sum()))
        return pooled, f"s = {pooled:.3g}, the SD pooled over the sites' arms"
    guess = 4 * float(np.median(table[summary["se"]].to_numpy(float)))
    return guess, f"s = {guess:.3g}, four times the median standard error (a guess: set it)"


def dataset_block(name: str, source: dict, summary: dict, unit: str, scale: float) -> dict:
    """The dataset block of a summary-level study: the pooled effect Normal(0, s), the SD
    of the sites' effects HalfNormal(s / 2)."""
    effect = {"dist": "Normal", "mu": 0.0, "sigma": round(scale, 4)}
    tau = {"dist": "HalfNormal", "sigma": round(scale / 2, 4)}
    return {
        "description": f"{name}: per-site summaries; edit me",
        "source": source,
        "summary": summary,
        "effect_size": unit,
        "models": {
            "fixed_effect": {
                "kind": "pymc",
                "builder": "replication_ladder.builders.fixed_effect",
                "priors": {"treatment": dict(effect)},
            },
            "random_effects": {
                "kind": "pymc",
                "builder": "replication_ladder.builders.meta_analysis",
                "priors": {"treatment": dict(effect), "treatment|site_sigma": tau},
            },
        },
    }
