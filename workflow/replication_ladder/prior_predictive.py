"""The prior predictive check: per rung, outcomes simulated from its prior on the real
design (the dataset's rows, or its site estimates' standard errors), before anything is
fitted, set against the outcome's possible range.

The draws come from the function SBC draws its replicates with
(`sbc.prior_simulations`), so the check sees exactly the prior SBC calibrates and the
fit uses, ordered thresholds included. A rung whose simulated outcomes fall outside the
range more often than `prior_predictive.max_outside` is named in a warning, in the log
and in the report: its priors allow outcomes the scale cannot hold (Bambi's data-scaled
defaults put simulated 0-9 ratings between -185 and 141).
"""

import logging

import numpy as np
import pandas as pd

from replication_ladder.atomic import write_json, write_parquet
from replication_ladder.rungs import ORDINAL_FAMILIES
from replication_ladder.seeds import derive_seed

log = logging.getLogger(__name__)

# Simulated values kept per rung for the report's figure (a random subset).
KEPT_VALUES = 20_000
QUANTILES = (0.01, 0.05, 0.5, 0.95, 0.99)


def outcome_bounds(declared: list | None, observed: np.ndarray, level: str) -> dict:
    """The range simulated outcomes are held against: the declared one (a rating scale's
    ends), else the observed values' range widened by its span on each side. A rung fitted
    to site estimates simulates differences, held against +/- the range's span."""
    if declared is not None:
        low, high = map(float, declared)
        source = "declared (outcome.range)"
    else:
        low, high = float(np.nanmin(observed)), float(np.nanmax(observed))
        span = high - low
        low, high = low - span, high + span
        source = "the observed range widened by its span on each side"
    if level == "sites":
        span = high - low
        return {"low": -span, "high": span, "source": f"+/- the span of {source}"}
    return {"low": low, "high": high, "source": source}


def simulated_outcomes(rung, draws: int, seed: int) -> np.ndarray:
    """`draws` outcomes of every row, simulated from the rung's prior (draws x rows); an
    ordinal rung's categories as the response's levels."""
    from replication_ladder.sbc import prior_simulations

    _, outcomes = prior_simulations(rung, draws, seed)
    outcomes = np.asarray(outcomes, dtype=float)
    if rung.spec.get("family") in ORDINAL_FAMILIES:  # category codes -> the rating's values
        levels = np.asarray(rung.bambi_model.response_term.levels, dtype=float)
        outcomes = levels[outcomes.astype(int)]
    return outcomes


def check(model: str, outcomes: np.ndarray, bounds: dict, max_outside: float) -> dict:
    """The share of simulated outcomes outside the range, their quantiles, and whether
    that share crosses the line."""
    values = outcomes.ravel()
    outside = float(((values < bounds["low"]) | (values > bounds["high"])).mean())
    result = {
        "model": model,
        "draws": int(outcomes.shape[0]),
        "share_outside": outside,
        "max_outside": max_outside,
        "warning": outside > max_outside,
        "min": float(values.min()),
        "max": float(values.max()),
        **{
            f"q{round(100 * q):02d}": float(value)
            for q, value in zip(QUANTILES, np.quantile(values, QUANTILES), strict=True)
        },
    }
    if result["warning"]:
        log.warning(
            "%s: %.0f%% of the outcomes simulated from its priors lie outside %g to %g "
            "(more than %.0f%%): its priors allow outcomes the scale cannot hold",
            model,
            100 * outside,
            bounds["low"],
            bounds["high"],
            100 * max_outside,
        )
    return result


def prior_predictive_of_ladder(specs: dict, tables: dict, settings: dict) -> tuple:
    """Each rung's check and a sample of its simulated outcomes."""
    from replication_ladder.rungs import build_rung

    checks, samples = [], []
    for model, spec in specs.items():
        table = tables[spec["level"]]
        rung = build_rung(spec, table)
        outcomes = simulated_outcomes(rung, settings["draws"], derive_seed(spec["seed"], "prior"))
        bounds = settings["bounds"][spec["level"]]
        checks.append(check(model, outcomes, bounds, settings["max_outside"]) | bounds)
        rng = np.random.default_rng(derive_seed(spec["seed"], "prior-sample"))
        values = outcomes.ravel()
        kept = rng.choice(values, size=min(KEPT_VALUES, values.size), replace=False)
        samples.append(pd.DataFrame({"model": model, "value": kept}))
        log.info(
            "%s: simulated outcomes from %.3g to %.3g, %.1f%% outside %g to %g",
            model,
            checks[-1]["min"],
            checks[-1]["max"],
            100 * checks[-1]["share_outside"],
            bounds["low"],
            bounds["high"],
        )
    return checks, pd.concat(samples, ignore_index=True)


def prior_predictive(snakemake) -> None:
    spec = snakemake.params.spec
    tables = {"rows": pd.read_parquet(snakemake.input.data)}
    if snakemake.input.sites:
        tables["sites"] = pd.read_parquet(snakemake.input.sites[0])
    observed = pd.to_numeric(tables["rows"][spec["response"]], errors="coerce").to_numpy(float)
    settings = {
        **spec["settings"],
        "bounds": {
            level: outcome_bounds(spec["range"], observed, level) for level in ("rows", "sites")
        },
    }
    checks, samples = prior_predictive_of_ladder(spec["models"], tables, settings)
    write_parquet(snakemake.output.draws, samples)
    write_json(snakemake.output.check, {"dataset": spec["dataset"], "rungs": checks})
