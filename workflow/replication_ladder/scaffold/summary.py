"""The scaffold's summary-level branch: recognise a file of per-site summaries by its
header, and write its dataset block (summary columns, effect size, the two meta-analysis
rungs with priors on the effect's scale).

Recognised headers, as meta-analysis software and papers write them (case and spacing
ignored): each arm's mean, SD and n under any two labels, before or after the statistic
(`Treated Mean`, `Control Std-Dev`, `n1i`, `sd2`, `M teeth`, `mean_lips`, `teeth_n`), or
events and n (a 2x2 table: a log odds ratio); an effect (`g`, `d`, `SMD`, `logOR`,
`logRR`, `z`, `yi`, `est`...) with its standard error, variance (`vi`) or interval
(`lower`, `upper`); or a t statistic, or an F with a sign column, with each arm's n.
Where the header cannot say which arm is the treatment, or which columns are the
effect, the scaffold asks by name (`--arms`, `--effect` with `--se`); a file that looks
like summaries but is none of these is refused, never made a ladder of one summary
regressed on others.
"""

import re

import numpy as np
import pandas as pd

from replication_ladder.base.errors import LadderError

TREATMENT = re.compile(r"^(treat\w*|exp\w*|intervention|e|t|1)$")
CONTROL = re.compile(r"^(control\w*|ctrl|c|2)$")
STATISTICS = {
    "mean": re.compile(r"^(mean|m|avg|average)$"),
    "sd": re.compile(r"^(sd|stdev|stddev|std-dev)$"),
    "n": re.compile(r"^(n|size|count|total)$"),
    "events": re.compile(r"^(events?|cases|successes|x)$"),
}
# metafor's names: m1i, sd2i, n1i...; ai, bi, ci, di are a 2x2 table's cells.
COMPACT = re.compile(r"^(m|mean|sd|n)(1|2)i?$")
EFFECTS = {
    "g": re.compile(r"^(g|hedges\W*s?\W*g|hedges g|smd)$"),
    "d": re.compile(r"^(d|cohen\W*s?\W*d|std diff in means|standardized mean difference)$"),
    "raw": re.compile(r"^(md|difference in means|mean difference|raw)$"),
    "logOR": re.compile(r"^(log ?or|ln ?or|log odds ratio)$"),
    "logRR": re.compile(r"^(log ?rr|ln ?rr|log risk ratio)$"),
    "z": re.compile(r"^(z|fisher s z|fisher z|zr)$"),
    "given": re.compile(r"^(yi|effect|es|est|estimate|effect size|r)$"),
}
SE = re.compile(r"^(se|sei|std err|stderr|standard error)$")
VARIANCE = re.compile(r"^(vi|var|variance)$")
LOWER = re.compile(r"^(lower|lower limit|ci low|ci lower|ci lb|lcl|ll|lower ci|95 ci lower)$")
UPPER = re.compile(r"^(upper|upper limit|ci high|ci upper|ci ub|ucl|ul|upper ci|95 ci upper)$")
T = re.compile(r"^(t|t value|t-value|tval)$")
F = re.compile(r"^(f|f value|f-value|fval|f ratio)$")
SIGN = re.compile(r"^(sign|direction)$")
SITE_HINTS = ("study", "lab", "site", "name", "author", "sample")


def _tokens(name: str) -> list[str]:
    words = re.split(r"[^0-9a-z]+", name.lower())
    # "Std-Dev" and "Sample size" are one statistic each.
    joined = " ".join(w for w in words if w)
    joined = joined.replace("std dev", "sd").replace("standard deviation", "sd")
    return joined.replace("sample size", "n").split()


def _arm_statistic(name: str) -> tuple[str, str] | None:
    """(arm label, statistic) a column holds: `M teeth`, `teeth_mean`, `n_lips`,
    `Treated Std-Dev` or metafor's `sd2i` (arms 1 and 2), or None."""
    compact = COMPACT.match(name.lower().replace(" ", ""))
    if compact:
        statistic = {"m": "mean"}.get(compact[1], compact[1])
        return compact[2], statistic
    tokens = _tokens(name.split(".")[0])
    statistics = [t for t in tokens if any(rule.match(t) for rule in STATISTICS.values())]
    if len(statistics) != 1 or len(tokens) < 2:
        return None
    statistic = next(s for s, rule in STATISTICS.items() if rule.match(statistics[0]))
    label = " ".join(t for t in tokens if t != statistics[0])
    return label, statistic


def arm_columns(header: list[str]) -> dict[str, dict[str, str]]:
    """{arm label: {statistic: column}} for every label with whole summaries (mean, SD
    and n, or events and n), each statistic in one column."""
    found: dict[str, dict[str, list[str]]] = {}
    for name in header:
        parsed = _arm_statistic(name)
        if parsed:
            found.setdefault(parsed[0], {}).setdefault(parsed[1], []).append(name)
    arms = {}
    for label, statistics in found.items():
        single = {s: c[0] for s, c in statistics.items() if len(c) == 1}
        for wanted in (("mean", "sd", "n"), ("events", "n")):
            if set(wanted) <= set(single):
                arms[label] = {s: single[s] for s in wanted}
                break
    return arms


def which_arm(labels: list[str], given: list[str] | None) -> tuple[str, str] | None:
    """(treatment, control) among two labels: given (--arms), metafor's 1 and 2, or by
    their names (treated, control); None when the names do not say."""
    if given:
        return tuple(given)
    if set(labels) == {"1", "2"}:
        return "1", "2"
    treated = [label for label in labels if any(TREATMENT.match(t) for t in label.split())]
    control = [label for label in labels if any(CONTROL.match(t) for t in label.split())]
    if len(treated) == 1 and len(control) == 1 and treated != control:
        return treated[0], control[0]
    return None


def _site(header: list[str], taken: set[str]) -> str:
    return next(
        (n for n in header if any(h in n.lower() for h in SITE_HINTS) and n not in taken),
        next((n for n in header if n not in taken), header[0]),
    )


def recognise(header: list[str], given: dict | None = None) -> tuple[dict, str] | None:
    """The `summary` block a header calls for and the effect's unit, or None when the
    file does not look like per-site summaries. `given` may name the arms (`arms`:
    treatment first), or the effect and its standard error (`effect`, `se`)."""
    given = given or {}
    if given.get("effect"):
        effect_column, se_column = given["effect"], given.get("se")
        if not se_column:
            raise LadderError("--effect needs --se: the effect's standard error column")
        unit = effect_unit(effect_column)
        taken = {effect_column, se_column}
        return {"site": _site(header, taken), "effect": effect_column, "se": se_column}, unit
    return by_arms(header, given.get("arms")) or by_effect(header) or by_test(header)


def by_arms(header: list[str], given: list[str] | None) -> tuple[dict, str] | None:
    arms = arm_columns(header)
    if given:
        missing = [label for label in given if label.lower() not in arms]
        if missing:
            raise LadderError(
                f"--arms {','.join(given)}: no mean, SD and n (or events and n) columns for "
                f"{', '.join(missing)} (arms found: {', '.join(arms) or 'none'})"
            )
        given = [label.lower() for label in given]
    if len(arms) < 2 and not given:
        return None
    if len(arms) > 2 and not given:
        raise LadderError(
            f"summaries of {len(arms)} arms ({', '.join(arms)}): say which two with "
            "--arms treatment,control"
        )
    pair = which_arm(list(arms), given)
    if pair is None:
        raise LadderError(
            f"two arms, {' and '.join(arms)}: say which is the treatment with --arms "
            f"{','.join(arms)} (treatment first)"
        )
    summary = {"treatment": arms[pair[0]], "control": arms[pair[1]]}
    taken = {c for arm in summary.values() for c in arm.values()}
    unit = "logOR" if "events" in summary["treatment"] else "raw"
    return {"site": _site(header, taken), **summary}, unit


def _plain(name: str) -> str:
    """A column name as its words: `CI_low` -> `ci low`, `Hedges's g` -> `hedges s g`."""
    return " ".join(re.split(r"[^0-9a-z]+", name.lower().split(".")[0])).strip()


def effect_unit(name: str) -> str:
    return next((u for u, rule in EFFECTS.items() if rule.match(_plain(name))), "given")


def by_effect(header: list[str]) -> tuple[dict, str] | None:
    """An effect column with a standard error, a variance or an interval beside it."""
    lowered = [_plain(n) for n in header]
    for position, name in enumerate(lowered):
        if not any(rule.match(name) for rule in EFFECTS.values()):
            continue
        rest = [(header[i], lowered[i]) for i in range(len(header)) if i != position]
        se = next((h for h, n in rest if SE.match(n)), None)
        variance = next((h for h, n in rest if VARIANCE.match(n)), None)
        lower = next((h for h, n in rest if LOWER.match(n)), None)
        upper = next((h for h, n in rest if UPPER.match(n)), None)
        block = {"effect": header[position]}
        if se:
            block["se"] = se
        elif variance:
            block["variance"] = variance
        elif lower and upper:
            block |= {"lower": lower, "upper": upper}
        else:
            continue
        taken = set(block.values())
        return {"site": _site(header, taken), **block}, effect_unit(name)
    return None


def by_test(header: list[str]) -> tuple[dict, str] | None:
    """A two-sample t, or the F of the two arms with its sign, with each arm's n."""
    t, f, sign = (next((h for h in header if r.match(h.lower())), None) for r in (T, F, SIGN))
    sizes = {label: arm["n"] for label, arm in _sizes(header).items()}
    pair = which_arm(list(sizes), None) if len(sizes) == 2 else None
    if (t is None and f is None) or pair is None:
        return None
    block = {"n_treatment": sizes[pair[0]], "n_control": sizes[pair[1]]}
    if t is not None:
        block["t"] = t
    elif sign is None:
        raise LadderError(
            f"column {f!r} is an F statistic, which has no sign: add a column 'sign' "
            "(1 where the treatment's mean is the higher, -1 otherwise)"
        )
    else:
        block |= {"F": f, "sign": sign}
    return {"site": _site(header, set(block.values())), **block}, "d"


def _sizes(header: list[str]) -> dict[str, dict[str, str]]:
    sizes = {}
    for name in header:
        parsed = _arm_statistic(name)
        if parsed and parsed[1] == "n":
            sizes.setdefault(parsed[0], {"n": name})
    return sizes


def refuse_summary_columns(header: list[str], given: dict) -> None:
    """A file that looks like per-site summaries but was not recognised is refused, its
    columns named, rather than made a ladder that regresses one summary on another."""
    lowered = [_plain(n) for n in header]
    summaries = [
        header[i]
        for i, n in enumerate(lowered)
        if SE.match(n)
        or VARIANCE.match(n)
        or any(rule.match(n) for rule in EFFECTS.values())
        or _arm_statistic(header[i]) is not None
    ]
    summaries = [c for c in summaries if c not in (given.get("outcome"), given.get("treatment"))]
    if len(summaries) >= 2:
        raise LadderError(
            f"the file looks like per-site summaries ({', '.join(summaries)}) in a form not "
            "recognised: name them, --arms treatment,control for each arm's mean, SD and n "
            "(or events and n), or --effect COLUMN --se COLUMN"
        )


def effect_scale(table: pd.DataFrame, summary: dict, unit: str) -> tuple[float, str]:
    """The scale s the priors are stated in, and where it came from: 1 for a
    standardized effect, else the SD pooled over the arms, else (only effects and
    standard errors given) four times the median standard error, a guess."""
    if unit in ("d", "g", "dz", "dav", "z"):
        return 1.0, "a standardized effect: s = 1 SD"
    if unit in ("logOR", "logRR"):
        return 1.0, "a log ratio: s = 1 (a ratio of e either way)"
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


# The scale a summary's unit puts the verdict on (replication.scale).
VERDICT_SCALE = {"logOR": "log odds", "logRR": "log"}


def dataset_block(name: str, source: dict, summary: dict, unit: str, scale: float) -> dict:
    """The dataset block of a summary-level study, with RoBMA's default priors on s:
    the pooled effect Normal(0, s), the SD of the sites' effects InverseGamma(1, 0.15 s)."""
    effect = {"dist": "Normal", "mu": 0.0, "sigma": round(scale, 4)}
    tau = {"dist": "InverseGamma", "alpha": 1.0, "beta": round(0.15 * scale, 4)}
    return {
        "description": f"{name}: per-site summaries; edit me",
        "source": source,
        "summary": summary,
        "effect_size": unit,
        "models": {
            "fixed_effect": {
                "kind": "pymc",
                "builder": "replication_ladder.models.builders.fixed_effect",
                "priors": {"treatment": dict(effect)},
            },
            "random_effects": {
                "kind": "pymc",
                "builder": "replication_ladder.models.builders.meta_analysis",
                "priors": {"treatment": dict(effect), "treatment|site_sigma": tau},
            },
        },
    }
