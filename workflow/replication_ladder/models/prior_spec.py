"""The one reading of a prior as the config writes it: `{dist: Normal, mu: 0, sigma: 1}`,
where a parameter may itself be a prior (a hierarchical one), `truncate: {lower, upper}`
bounds a Bayes factor's test prior, `transform: ordered` sorts an ordinal family's
thresholds and `noncentered: false` samples a group-level term's effects themselves
rather than standardised offsets scaled by their SD. The dict stays what files store and
hashes read; `Prior` is how the code uses one: with PyMC, with Bambi, as text."""

from functools import cache

import numpy as np

from replication_ladder.base.errors import ConfigError

# Small one-off functions (a prior's density, its draws): PyTensor's Python linker
# compiles in milliseconds where Numba takes seconds.
QUICK_MODE = "FAST_COMPILE"
# Families whose support is the positive half-line (a scale's priors).
POSITIVE = frozenset(
    {"HalfNormal", "HalfCauchy", "HalfStudentT", "Gamma", "InverseGamma", "Exponential"}
    | {"LogNormal", "Weibull", "HalfFlat", "ChiSquared"}
)


class Prior:
    def __init__(self, spec: dict):
        self.spec = spec

    @property
    def dist(self) -> str:
        return self.spec["dist"]

    @property
    def args(self) -> dict:
        """The distribution's own parameters (nested priors as dicts)."""
        return {
            k: v
            for k, v in self.spec.items()
            if k not in ("dist", "truncate", "transform", "noncentered")
        }

    @property
    def fixed(self) -> bool:
        """No parameter is itself a prior: the density has a closed form."""
        return not any(isinstance(v, dict) for v in self.args.values())

    @property
    def bounds(self) -> tuple[float, float] | None:
        """The (lower, upper) it is truncated to, or None. A truncation has its own key,
        apart from a distribution's parameters (Uniform's lower and upper are its support)."""
        bounds = self.spec.get("truncate")
        if not bounds:
            return None
        return float(bounds.get("lower", -np.inf)), float(bounds.get("upper", np.inf))

    def text(self) -> str:
        """`Normal(mu=0, sigma=0.82)`, truncations spelt out: how verdicts and reports
        name a prior."""
        args = ", ".join(f"{key}={_text(value)}" for key, value in self.args.items())
        text = f"{self.dist}({args})"
        lower, upper = self.bounds or (-np.inf, np.inf)
        if lower > -np.inf:
            text += f" truncated to ≥ {lower:g}"
        if upper < np.inf:
            text += f" truncated to ≤ {upper:g}"
        return text

    def check(self, where: str) -> None:
        """Its distributions are PyMC's (nested ones too); errors name the key."""
        import pymc

        dist = getattr(pymc, self.dist, None)
        if not (isinstance(dist, type) and issubclass(dist, pymc.Distribution)):
            raise ConfigError(f"{where}.dist: {self.dist!r} is not a PyMC distribution")
        for name, value in self.args.items():
            if isinstance(value, dict):
                Prior(value).check(f"{where}.{name}")

    def distribution(self):
        """The PyMC distribution (`.dist`), truncation included: pm.Truncated
        renormalises its density."""
        if not self.fixed:
            raise ValueError(f"a hierarchical prior has no closed density: {self.spec}")
        bounds = dict(zip(("lower", "upper"), self.bounds, strict=True)) if self.bounds else {}
        return _distribution(self.dist, self.args, bounds)

    def log_density(self, values) -> np.ndarray:
        """The density's log at `values` (a closed form: no parameter is a prior)."""
        if not self.fixed:
            raise ValueError(f"a hierarchical prior has no closed density: {self.spec}")
        values = np.asarray(values, dtype=float)
        arguments = {k: np.asarray(v, dtype=float) for k, v in self.args.items()}
        bounds = {
            side: bound
            for side, bound in zip(("lower", "upper"), self.bounds or (), strict=False)
            if np.isfinite(bound)
        }
        function = _log_density_function(
            self.dist,
            tuple((name, value.ndim) for name, value in arguments.items()),
            tuple(bounds),
            values.ndim,
        )
        logp = function(values, *arguments.values(), *bounds.values())
        return np.asarray(logp, dtype=float)

    @property
    def support(self) -> tuple[float, float]:
        """Where the density is positive: a truncation's bounds, a Uniform's own, the
        positive half-line for a scale's families, else the whole line."""
        lower, upper = self.bounds or (-np.inf, np.inf)
        if self.dist == "Uniform":
            lower, upper = (
                max(lower, float(self.args["lower"])),
                min(upper, float(self.args["upper"])),
            )
        elif self.dist in POSITIVE:
            lower = max(lower, 0.0)
        return lower, upper

    def draws(self, seed: int, draws: int = 20_000) -> np.ndarray:
        import pymc as pm

        return np.asarray(
            pm.draw(self.distribution(), draws=draws, random_seed=seed, mode=QUICK_MODE)
        )

    def random_variable(self, name: str, **kwargs):
        """The PyMC random variable `name` in the model being built."""
        import pymc as pm

        return getattr(pm, self.dist)(name, **self.args, **kwargs)

    def bambi(self):
        """As a bmb.Prior, nested priors too; a `transform` is named."""
        import bambi as bmb
        import pymc as pm

        args = {k: Prior(v).bambi() if isinstance(v, dict) else v for k, v in self.args.items()}
        if "transform" in self.spec:
            args["transform"] = getattr(pm.distributions.transforms, self.spec["transform"])
        noncentered = self.spec.get("noncentered")
        if self.dist == "ZeroSumNormal" and not self.fixed and noncentered is not False:
            # Bambi non-centres Normal group effects only; its `dist` hook does this one.
            return bmb.Prior(self.dist, dist=_zero_sum_offsets, noncentered=False, **args)
        return bmb.Prior(self.dist, noncentered=noncentered, **args)

    @classmethod
    def from_bambi(cls, prior) -> "Prior":
        """A bmb.Prior as the config would write it (numbers and lists; a transform by
        its name; `noncentered: false` where the effects themselves are sampled)."""
        spec = {"dist": prior.name, **{k: _plain(v) for k, v in prior.args.items()}}
        if prior.noncentered is False and prior.dist is None:
            spec["noncentered"] = False
        return cls(spec)


def _distribution(dist: str, args: dict, bounds: dict):
    """PyMC's `dist` with `args`, truncated to `bounds` (lower, upper) if any: pm.Truncated
    renormalises its density. The arguments may be numbers or PyTensor inputs."""
    import pymc as pm

    base = getattr(pm, dist).dist(**args)
    return pm.Truncated.dist(base, **bounds) if bounds else base


@cache
def _log_density_function(dist: str, parameters: tuple, bounds: tuple, ndim: int):
    """A family's log density compiled once with its parameters (and truncation bounds)
    as inputs: the replication verdict scores a test prior at a dozen scales, and each
    `pm.logp(...).eval()` of a new prior spent 35 ms rewriting and compiling its graph."""
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt

    value = pt.tensor("value", dtype="float64", shape=(None,) * ndim)
    inputs = {name: pt.tensor(name, dtype="float64", shape=(None,) * d) for name, d in parameters}
    limits = {side: pt.dscalar(side) for side in bounds}
    distribution = _distribution(dist, inputs, limits)
    return pytensor.function(
        [value, *inputs.values(), *limits.values()],
        pm.logp(distribution, value),
        mode=QUICK_MODE,
    )


def _zero_sum_offsets(name: str, sigma, dims=None):
    """Group effects summing to zero, non-centred: standardised offsets times their SD."""
    import pymc as pm

    offset = pm.ZeroSumNormal(f"{name}_offset", sigma=1, dims=dims)
    return pm.Deterministic(name, offset * sigma, dims=dims)


def _text(value) -> str:
    if isinstance(value, dict):
        return Prior(value).text()
    return f"{value:g}" if isinstance(value, float | int) else str(value)


def _plain(value):
    import bambi as bmb

    if isinstance(value, bmb.Prior):
        return Prior.from_bambi(value).spec
    if hasattr(value, "forward") and hasattr(value, "name"):  # a transform, by its name
        return value.name
    array = np.asarray(value)
    if array.dtype.kind in "fiu":
        return array.item() if array.ndim == 0 else array.tolist()
    return str(value)


def prior_text(spec: dict | None) -> str:
    """A prior's text, or `none` where a rung has none."""
    return Prior(spec).text() if spec else "none"
