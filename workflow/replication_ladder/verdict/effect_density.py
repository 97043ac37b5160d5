"""The posterior density of the treatment effect at zero, for the Savage-Dickey Bayes
factor: the average over the posterior draws of the effect's conditional density at zero
(Rao-Blackwellised, Gelfand & Smith 1990), one term a draw, so that the estimate holds
however far zero lies from the draws and its Monte Carlo error can be measured.

Three ways, by what the model allows:

- `collapsed`: a normal likelihood with an identity link (or a lognormal one, normal on
  the log), where the mean is linear in every coefficient with a normal prior (the
  effect, the other common effects, each group-level effect). Given the rest (the SDs,
  zero-sum site intercepts) those coefficients are jointly normal, so the effect's
  conditional with all of them integrated out is normal, from one linear solve a draw.
  Conditioning on them instead leaves each draw's conditional far narrower than the
  posterior (a participant's intercept trades off with the effect in a between-participant
  design), and the average is then carried by a few draws once zero is far out.
- `centred on <term>`: any other likelihood (a logit, a cumulative model) where a group
  term takes up a shift of the effect (a participant intercept in a between-participant
  design) and conditioning on its levels centred on the effect gives wider conditionals
  than on the levels as sampled (centred_conditional).
- `conditional`: any other likelihood otherwise. The effect's full conditional given
  every other parameter.
The last two are normalised by Gauss-Hermite quadrature centred at the mode with
Laplace's scale (`normalised_log_density`).

ArviZ's `bayes_factor` takes the density from a KDE of the draws: accurate near them,
36-fold off at z = 4.3. Bridge sampling (Gronau et al. 2017) needs a second fit with the
effect at zero for every rung, and its proposal is poor in a thousand dimensions.
"""

import logging
import math
from functools import cached_property, partial

import numpy as np
from scipy.special import logsumexp

from replication_ladder.models.densities import Densities
from replication_ladder.models.prior_spec import Prior
from replication_ladder.verdict.centred_conditional import CentredConditional
from replication_ladder.verdict.normal_block import NormalBlock

log = logging.getLogger(__name__)

EFFECT_DENSITY_GROUP = "effect_density"  # the fit's group holding the terms
# Terms averaged, thinned evenly from the draws.
MAX_DRAWS = {"collapsed": 8000, "over slopes' SD": 1000, "centred": 8000, "conditional": 500}
WIDTH_DRAWS = 40  # draws on which the two conditionals' widths are compared
HERMITE_NODES = 12  # the conditional's normalising integral (exact for a normal)


class EffectDensity:
    """The effect's conditional density at `value` per posterior draw, for one rung.

    Parameters
    ----------
    rung : rungs.Rung
        The built rung; its model in its own parameterisation.
    effect : str
        The effect's free variable (the treatment column's name).
    prior : dict
        The prior the rung was fitted with on the effect (fixed parameters).
    """

    def __init__(self, rung, effect: str, prior: dict):
        self.rung = rung
        self.effect = effect
        self.prior = Prior(prior)
        self.densities = Densities(rung)

    @cached_property
    def collapse(self):
        """The normal block of the model, or None when the likelihood is not normal in
        the effect (then `conditional`)."""
        return NormalBlock.of(self.rung, self.effect, self.densities)

    def log_density(
        self, posterior, rows: dict | None = None, log_lik_totals=None, value: float = 0.0
    ):
        """log p(effect = value | y, rest) for a thinned set of draws: a DataArray
        (chain, draw). `posterior` is in the model's own parameterisation (before
        `rung.finish`); `log_lik_totals` (chain, draw), if given, are checked against the
        collapse's own log-likelihood (the fit checks; a simulated outcome's refit need
        not)."""
        import xarray as xr

        rows = self.rung.rows() if rows is None else rows
        if self.collapse is not None:
            method = "collapsed"
            posterior = thinned(posterior, self._collapsed_draws())
            values = self.collapse.log_density_at(
                posterior, rows, self.prior, value, log_lik_totals
            )
        else:
            method, posterior, values = self._not_collapsed(posterior, rows, value)
        return xr.DataArray(
            values.reshape(posterior.sizes["chain"], posterior.sizes["draw"]),
            dims=("chain", "draw"),
            coords={"chain": posterior["chain"], "draw": posterior["draw"]},
            attrs={"method": method, "value": value, "prior": self.prior.text()},
        )

    @classmethod
    def of(cls, rung) -> "EffectDensity | None":
        """The rung's treatment effect's, or None where it has none with a fixed prior."""
        treatment = rung.spec.get("treatment")
        prior = rung.priors().get(treatment) if treatment else None
        free = {rv.name for rv in rung.model.free_RVs}
        if prior is None or treatment not in free or not Prior(prior).fixed:
            return None
        return cls(rung, treatment, prior)

    def group(self, posterior, totals=None, rows: dict | None = None):
        """The `effect_density` group of a fit: the effect's conditional density at zero
        per (thinned) draw. `totals`, the fit's log-likelihood summed over the rows per
        draw (a DataArray (chain, draw)), are the collapse's check."""
        import xarray as xr

        density = self.log_density(posterior, rows, totals)
        return xr.Dataset({"log_density_at_zero": density}, attrs=density.attrs)

    def _collapsed_draws(self) -> int:
        """Terms to average: fewer where each costs a grid over the slopes' SD (their
        spread is then small: 0.04-0.06 nats on the RRR's rungs)."""
        if self.collapse.slopes is not None:
            return MAX_DRAWS["over slopes' SD"]
        return MAX_DRAWS["collapsed"]

    def _not_collapsed(self, posterior, rows: dict, value: float):
        """(method, the draws used, their log densities at `value`) by the widest of the
        draws' conditionals: given the levels of a group term that takes up the effect,
        centred on it, or given every other parameter as sampled."""
        centred = self._widest(posterior, rows)
        method = "conditional" if centred is None else centred.method
        posterior = thinned(posterior, MAX_DRAWS["conditional" if centred is None else "centred"])
        log_joint = (
            partial(self._log_joint, posterior, rows)
            if centred is None
            else centred.log_joint(posterior, self.prior)
        )
        effect = posterior[self.effect].values.ravel()
        return method, posterior, normalised_log_density(log_joint, effect, value)

    def _widest(self, posterior, rows: dict):
        """The centring whose conditionals are widest (median over a few draws), or None
        where the full conditional's are. The wider the draws' conditionals, the less
        their means vary (the law of total variance) and the less the average at zero
        leans on a few draws."""
        candidates = CentredConditional.candidates(
            self.rung, self.effect, self.densities, posterior, rows
        )
        if not candidates:
            return None
        sample = thinned(posterior, WIDTH_DRAWS)
        effect = sample[self.effect].values.ravel()

        def width(log_joint) -> float:
            return float(np.median(laplace(log_joint, effect)[1]))

        widths = [width(c.log_joint(sample, self.prior)) for c in candidates]
        best = int(np.argmax(widths))
        full = width(partial(self._log_joint, sample, rows))
        return candidates[best] if widths[best] > full else None

    def _log_joint(self, posterior, rows, values: np.ndarray) -> np.ndarray:
        """log p(y | effect = values, rest) + log prior(values), per draw."""
        changed = posterior.assign(
            {
                self.effect: (
                    posterior[self.effect].dims,
                    values.reshape(posterior[self.effect].shape),
                )
            }
        )
        totals = self.densities.log_likelihood_totals(changed, rows).ravel()
        return totals + self.prior.log_density(values)


def laplace(log_joint, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each draw's conditional's mode and scale (Laplace's approximation refined by a
    Newton step from three points, twice), from `log_joint` (values, one a draw -> the
    log joint up to a constant a draw)."""
    step = max(float(draws.std()), 1e-6)
    mode, scale = draws, np.full(draws.size, step)
    for _ in range(2):
        below, centre, above = (log_joint(mode + shift * scale) for shift in (-1, 0, 1))
        curvature = (2 * centre - below - above) / scale**2
        slope = (above - below) / (2 * scale)
        concave = curvature > 0
        mode = np.where(concave, mode + slope / np.where(concave, curvature, 1.0), mode)
        scale = np.where(concave, 1 / np.sqrt(np.where(concave, curvature, 1.0)), scale)
    return mode, scale


def normalised_log_density(log_joint, draws: np.ndarray, value: float) -> np.ndarray:
    """log p(effect = value | rest) per draw: the log joint there less its normalising
    integral, by Gauss-Hermite quadrature centred at Laplace's mode and scale (exact
    where the conditional is normal)."""
    mode, scale = laplace(log_joint, draws)
    nodes, weights = np.polynomial.hermite.hermgauss(HERMITE_NODES)
    terms = np.stack([log_joint(mode + math.sqrt(2) * scale * node) + node**2 for node in nodes])
    log_norm = logsumexp(terms + np.log(weights)[:, None], axis=0) + np.log(math.sqrt(2) * scale)
    return log_joint(np.full(draws.size, value)) - log_norm


def effect_at_zero(rung, posterior, totals=None, rows: dict | None = None):
    """The `effect_density` group of a fit (EffectDensity.group), or None where the rung
    has no treatment effect with a fixed prior."""
    density = EffectDensity.of(rung)
    return None if density is None else density.group(posterior, totals, rows)


def thinned(posterior, count: int):
    """At most `count` draws, evenly spaced within each chain (chains kept whole)."""
    per_chain = max(1, count // posterior.sizes["chain"])
    step = max(1, math.ceil(posterior.sizes["draw"] / per_chain))
    return posterior.isel(draw=slice(None, None, step))
