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

from replication_ladder.base.seeds import derive_seed
from replication_ladder.models.families import ORDINAL_FAMILIES

log = logging.getLogger(__name__)

# Simulated values kept per rung for the report's figure (a random subset).
KEPT_VALUES = 20_000
QUANTILES = (0.01, 0.05, 0.5, 0.95, 0.99)


# With no declared range, site effects are held against two SDs of the outcome either way
# (d = 2): beyond any effect the field reports, whatever the study's own data.
EFFECT_REACH = 2.0


def outcome_bounds(declared: list | None, effects: bool, effect_sd: float | None) -> dict:
    """The range simulated outcomes are held against, never read off the data (whose
    spread says nothing of where an outcome cannot be): the declared one (a rating
    scale's ends; for site effects +/- its span); else, for site effects, EFFECT_REACH
    SDs of the outcome either way (1 for a standardized effect); else none, and the
    simulations are reported without a warning."""
    if declared is not None:
        low, high = map(float, declared)
        if effects:
            return {
                "low": low - high,
                "high": high - low,
                "source": "+/- the declared range's span",
            }
        return {"low": low, "high": high, "source": "declared (outcome.range)"}
    if effects and effect_sd is not None and np.isfinite(effect_sd):
        reach = EFFECT_REACH * float(effect_sd)
        return {"low": -reach, "high": reach, "source": f"+/- {EFFECT_REACH:g} SDs (d = 2)"}
    return {"low": None, "high": None, "source": "none: no outcome.range is declared"}


def simulated_outcomes(rung, draws: int, seed: int) -> np.ndarray:
    """`draws` outcomes of every row, simulated from the rung's prior (draws x rows); an
    ordinal rung's categories as the response's levels."""
    from replication_ladder.calibration.sbc import prior_simulations

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
    outside = None
    if bounds["low"] is not None:
        outside = float(((values < bounds["low"]) | (values > bounds["high"])).mean())
    result = {
        "model": model,
        "draws": int(outcomes.shape[0]),
        "share_outside": outside,
        "max_outside": max_outside,
        "warning": outside is not None and outside > max_outside,
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
    from replication_ladder.models.kinds import build_rung

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
            "%s: simulated outcomes from %.3g to %.3g; outside the range (%s): %s",
            model,
            checks[-1]["min"],
            checks[-1]["max"],
            bounds["source"],
            "n/a" if checks[-1]["share_outside"] is None else f"{checks[-1]['share_outside']:.1%}",
        )
    return checks, pd.concat(samples, ignore_index=True)
