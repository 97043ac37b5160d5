"""The verdict's operating characteristics at the observed design: how often each verdict
comes out when the true effect is zero, the original's, or the small-telescopes d33
(Schoenbrodt & Wagenmakers 2018's Bayes factor design analysis; metaBMA's predicted_bf).

Each simulated replication has the study's sites with their standard errors and the
fitted heterogeneity (REML tau, as metafor's rma); its verdict is the two-stage one: the
random-effects meta-analysis of the site estimates under the dataset's meta-analysis
priors gives the interval, its marginal likelihoods with and without an effect under
the test prior the Bayes factor (model_averaging's quadrature: exact, so that a thousand
replications take seconds where refitting the verdict's rung a thousand times would
take hours), and replication.verdict_outcome words it as the verdict does. For a
trial-level rung the figures approximate its verdict by its two-stage equivalent, which
is what the report says.
"""

import logging
import math

import numpy as np
import pandas as pd

from replication_ladder.verdict.equivalence import d33, original_group_sizes, original_se
from replication_ladder.verdict.model_averaging import Averaging
from replication_ladder.verdict.random_effects import random_effects
from replication_ladder.verdict.replication import verdict_outcome

log = logging.getLogger(__name__)

POSTERIOR_DRAWS = 1000  # per simulated replication, for its interval
GROUPS = {  # the verdict's five wordings in three
    "replicates": "replicates",
    "replicates in direction but not in size": "replicates",
    "does not replicate": "does not replicate",
    "is reversed": "does not replicate",
    "is inconclusive": "inconclusive",
}


def true_effects(original: dict) -> dict[str, float]:
    """The effects the replications are simulated at: none, the original's, and the
    effect the original had 33% power for (on the outcome's scale, where it is known)."""
    effects = {"zero": 0.0, "original": float(original["effect"])}
    sizes, se = original_group_sizes(original), original_se(original)
    if sizes is not None and se is not None:
        n1, n2 = sizes
        sign = math.copysign(1.0, original["effect"])
        effects["d33"] = sign * d33(n1, n2) * se / math.sqrt(1 / n1 + 1 / n2)
    return effects


def simulated_verdict(effect, se, priors: dict, test_prior: dict, spec: dict, rng) -> dict:
    """One simulated replication's verdict: its interval, Bayes factor and wording."""
    fitted = Averaging(effect, se, priors["effect"], priors["tau"])
    draws = fitted.draws("random_effect", POSTERIOR_DRAWS, rng)["mu"]
    tail = (1 - spec["ci_prob"]) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    tested = Averaging(effect, se, test_prior, priors["tau"])
    log_bf01 = tested.log_marginal("random_null") - tested.log_marginal("random_effect")
    interval = {"mean": float(draws.mean()), "ci_low": float(low), "ci_high": float(high)}
    test = {"bf01": math.exp(log_bf01), "reliable": True}
    wording, _ = verdict_outcome(interval, spec["original"]["effect"], test)
    return {"wording": wording, "log_bf10": -log_bf01}


def operating_characteristics(sites: pd.DataFrame, priors: dict, spec: dict) -> dict:
    """Per true effect, the share of simulated replications with each verdict (and in the
    three groups), and the quantiles of their log BF10."""
    effect, se = sites["effect"].to_numpy(float), sites["se"].to_numpy(float)
    tau = math.sqrt(random_effects(effect, se, spec["ci_prob"])["tau2"])
    rng = np.random.default_rng(spec["seed"])
    scenarios = {}
    for name, truth in true_effects(spec["original"]).items():
        rows = []
        for _ in range(spec["simulations"]):
            simulated = rng.normal(truth + tau * rng.standard_normal(se.size), se)
            rows.append(simulated_verdict(simulated, se, priors, spec["test_prior"], spec, rng))
        table = pd.DataFrame(rows)
        words = table["wording"].value_counts(normalize=True)
        grouped = table["wording"].map(GROUPS).value_counts(normalize=True)
        scenarios[name] = {
            "true_effect": truth,
            "verdicts": {w: float(words.get(w, 0.0)) for w in GROUPS},
            "grouped": {g: float(grouped.get(g, 0.0)) for g in dict.fromkeys(GROUPS.values())},
            "log_bf10_quantiles": {
                f"q{round(100 * q):02d}": float(table["log_bf10"].quantile(q))
                for q in (0.05, 0.5, 0.95)
            },
        }
    return {
        "method": "two-stage random-effects meta-analysis of the sites' estimates",
        "sites": int(se.size),
        "tau": tau,
        "tau_from": "REML (as metafor's rma) on the sites' estimates",
        "simulations": spec["simulations"],
        "priors": priors,
        "test_prior": spec["test_prior"],
        "seed": spec["seed"],
        "scenarios": scenarios,
    }
