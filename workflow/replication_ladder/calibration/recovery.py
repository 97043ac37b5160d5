"""Parameter recovery on synthetic data: is each true value inside its credible interval?

A row-level rung is checked when it estimates every parameter of the generator: only
then is it the generator's model (a fixed-effects rung has no site SDs to compare, and
its residual SD absorbs the sites' spread). A rung fitted to per-site estimates is
checked on the parameters it shares with the generator (the pooled effect, the SD of the
site effects and the site effects themselves), which it estimates without modelling the
rest.
"""

import logging

import pandas as pd

log = logging.getLogger(__name__)

COLUMNS = ["model", "parameter", "true_value", "mean", "ci_low", "ci_high", "covered", "ci_prob"]


def recovery_rows(model: str, truth: dict, summary: pd.DataFrame, ci_prob: float) -> list[dict]:
    rows = []
    for name, value in truth.items():
        estimate = summary.loc[name]
        rows.append(
            {
                "model": model,
                "parameter": name,
                "true_value": float(value),
                "mean": float(estimate["mean"]),
                "ci_low": float(estimate["ci_low"]),
                "ci_high": float(estimate["ci_high"]),
                "covered": bool(estimate["ci_low"] <= value <= estimate["ci_high"]),
                "ci_prob": ci_prob,
            }
        )
    return rows


def recovered(
    truth: dict[str, float],
    summaries: dict[str, pd.DataFrame],
    ci_prob: float,
    levels: dict[str, str] | None = None,
) -> pd.DataFrame:
    rows = []
    for model, summary in summaries.items():
        if (levels or {}).get(model) == "sites":
            shared = {name: value for name, value in truth.items() if name in summary.index}
            rows += recovery_rows(model, shared, summary, ci_prob)
            continue
        missing = [name for name in truth if name not in summary.index]
        if missing:
            log.info("%s does not estimate %s: not a recovery candidate", model, missing[0])
            continue
        rows += recovery_rows(model, truth, summary, ci_prob)
    if not rows:
        log.warning("no model of the ladder estimates every parameter of the generator")
    return pd.DataFrame(rows, columns=COLUMNS).astype({"covered": bool})
