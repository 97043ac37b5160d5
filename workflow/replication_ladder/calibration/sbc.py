"""Simulation-based calibration (Talts et al. 2018; Modrak et al. 2023): draw parameters
from a rung's own prior, simulate the outcome on the real design (the dataset's sites,
participants and covariates), fit, and rank each true value among the posterior draws.
If the fit is calibrated, every parameter's rank is uniform over the replicates.

Replicates run in batches, one job per batch: the rung is built and compiled once and
each replicate only swaps the simulated outcome in. All prior draws come from one seed
(so a replicate's data do not depend on how replicates are batched), each fit has a seed
of its own, and each finished replicate is kept under the batch's .progress/ directory
with the hash of its settings and of the job's input files (code and data): a batch killed
half-way resumes where it stopped, and a batch rerun for changed code or data redoes all.
Posterior draws are thinned to about their effective sample size before ranking, as the
ranks of autocorrelated draws are not uniform even when the fit is right.
"""

import json
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from replication_ladder.base.atomic import write_json
from replication_ladder.base.hashing import canonical_hash
from replication_ladder.base.progress import Progress
from replication_ladder.base.seeds import derive_seed
from replication_ladder.models.prior_spec import QUICK_MODE
from replication_ladder.models.rungs import FORWARD_COMPILE

log = logging.getLogger(__name__)

META = [
    "replicate",
    "hypothesis",  # H1: drawn from the prior; H0: the same with the effect at zero
    "log_bf10",  # the verdict's Savage-Dickey log BF10, where the rung has one
    "bf_reliable",
    "draws_ranked",
    "divergences",
    "max_r_hat",
    "min_ess_bulk",
]


def flat_values(dataset, names: list[str]) -> dict[str, float]:
    """{`name[coord]`: value} for one draw of each variable (ArviZ's label style)."""
    out = {}
    for name in names:
        values = dataset[name]
        if values.ndim == 0:
            out[name] = float(values)
            continue
        stacked = values.stack(element=values.dims) if values.ndim > 1 else values
        for position in range(stacked.size):
            element = stacked.isel({stacked.dims[0]: position})
            coords = [str(element[dim].values) for dim in values.dims if dim in element.coords]
            label = ",".join(coords) if coords else str(position)
            out[f"{name}[{label}]"] = float(element)
    return out


def ranked_parameters(rung) -> list[str]:
    """The variables whose calibration is checked: the rung's stored ones, without the
    offsets of non-centred effects (they mirror the group effects)."""
    return [name for name in rung.stored_variables if not name.endswith("_offset")]


def thinned(posterior, names: list[str]):
    """Draws thinned to about the smallest bulk ESS (at least 50 kept), by ArviZ's `thin`.
    Its own factor ("auto", Saeilynoja et al. 2022) also weighs the tail ESS and kept 11
    draws a chain of a slowly mixing replicate: too few ranks to test uniformity."""
    import arviz as az

    ess = az.ess(posterior[names], method="bulk")
    smallest = float(np.nanmin([float(np.nanmin(v.values)) for v in ess.data_vars.values()]))
    total = posterior.sizes["chain"] * posterior.sizes["draw"]
    keep = max(50, min(total, int(smallest))) if math.isfinite(smallest) else total
    kept = az.thin(posterior[names], factor=max(1, total // keep))
    return kept.stack(sample=("chain", "draw")), smallest


def replicate_ranks(
    rung, compiled, truth: dict | None, observed: np.ndarray, seed: int, cores: int, density=None
) -> dict:
    """Fit one simulated outcome; rank each true value among the thinned draws (none for
    a replicate simulated under the null, whose truth is not a prior draw) and, with the
    rung's EffectDensity, its Savage-Dickey log BF10."""
    import arviz as az

    from replication_ladder.verdict.bayes_factors import savage_dickey

    names = ranked_parameters(rung)
    rows = rung.rows(observed=observed)
    draws = compiled.sample(seed, cores, data=rows)
    posterior = draws["posterior"].to_dataset()
    kept, min_ess = thinned(posterior, names)
    ranks = {}
    for name in names if truth is not None else ():
        values = kept[name].transpose("sample", ...)
        flat = values.values.reshape(values.sizes["sample"], -1)
        true = np.asarray(truth[name]).reshape(-1)
        labels = list(flat_values(posterior.isel(chain=0, draw=0), [name]))
        for label, column, value in zip(labels, flat.T, true, strict=True):
            ranks[label] = int((column < value).sum())
    summary = az.summary(draws, var_names=names, kind="diagnostics", round_to="none")
    factor = {"log_bf10": None, "bf_reliable": None}
    if density is not None:
        terms = density.group(posterior, rows=rows)["log_density_at_zero"]
        result = savage_dickey(terms, density.prior.spec)
        factor = {"log_bf10": -result["log_bf01"], "bf_reliable": result["reliable"]}
    return {
        **ranks,
        **factor,
        "draws_ranked": int(kept.sizes["sample"]),
        "divergences": int(draws["sample_stats"]["diverging"].sum()),
        "max_r_hat": float(summary["r_hat"].max()),
        "min_ess_bulk": min_ess,
    }


def prior_simulations(rung, replicates: int, seed: int, fixed: dict | None = None):
    """Every replicate's parameters and simulated outcome, from one seed, drawn from the
    prior the rung is fitted with. PyMC's forward sampling ignores transforms, so a
    variable with an `ordered` transform (the cumulative family's thresholds) comes out
    unsorted from pm.sample_prior_predictive; its prior as fitted is the base
    distribution restricted to sorted values, drawn here by rejection, and the rest of
    the model is drawn given it. Forward draws are compiled in PyTensor's quick mode: a
    second, where Numba took 35 s on an empty cache for the RRR's ordinal rung. The
    same seed gives the same draws; they are Numba's to the last bits for continuous
    outcomes, not for a Bernoulli's (each backend samples it its own way). `fixed` holds
    variables at values (the null's effect at zero: pm.do), the rest drawn given them."""
    import pymc as pm

    rung.set_rows(rung.rows())
    model = pm.do(rung.model, fixed) if fixed else rung.model
    names = [name for name in ranked_parameters(rung) if name not in (fixed or {})]
    ordered = ordered_variables(model)
    if not ordered:
        simulated = pm.sample_prior_predictive(
            draws=replicates,
            model=model,
            var_names=[*names, rung.observed.name],
            random_seed=seed,
            compile_kwargs=FORWARD_COMPILE,
        )
        prior = simulated["prior"].to_dataset().isel(chain=0)
        predictive = simulated["prior_predictive"].to_dataset()
        return prior, predictive[rung.observed.name].isel(chain=0).values
    return _prior_given_ordered(rung, model, names, ordered, replicates, seed)


def ordered_variables(model) -> list:
    """The free variables whose transform sorts them (alone or in a chain of transforms)."""
    from pymc.distributions.transforms import Ordered

    found = []
    for variable in model.free_RVs:
        transform = model.rvs_to_transforms.get(variable)
        parts = getattr(transform, "transform_list", [transform])
        if any(isinstance(part, Ordered) for part in parts):
            found.append(variable)
    return found


# Rejection draws per try, and how many tries before the prior is called too improbable
# to be sorted by chance (the RRR's nine thresholds: about 0.27% of draws are sorted).
ORDERED_BATCH = 20_000
ORDERED_TRIES = 50


def sorted_draws(variable, count: int, seed: int) -> np.ndarray:
    """`count` draws of `variable`'s base distribution that come out sorted: exactly its
    distribution restricted to the sorted region, which is what the ordered transform's
    density is."""
    import pymc as pm

    rng = np.random.default_rng(seed)
    kept = []
    for _ in range(ORDERED_TRIES):
        draws = np.asarray(pm.draw(variable, draws=ORDERED_BATCH, random_seed=rng, mode=QUICK_MODE))
        kept.extend(draws[(np.diff(draws, axis=-1) > 0).all(axis=-1)])
        if len(kept) >= count:
            return np.stack(kept[:count])
    raise ValueError(
        f"{variable.name}: {len(kept)} of {ORDERED_TRIES * ORDERED_BATCH} prior draws are "
        f"sorted, fewer than the {count} replicates: give it a prior with sorted means and "
        "a smaller scale"
    )


def _prior_given_ordered(rung, model, names: list[str], ordered: list, replicates: int, seed: int):
    """Draws of every ranked variable and of the outcome with the ordered variables fixed
    to sorted draws (pm.do puts shared values in their place: one compiled function)."""
    import pymc as pm
    import pytensor
    import xarray as xr

    fixed_draws = {
        variable.name: sorted_draws(variable, replicates, derive_seed(seed, variable.name))
        for variable in ordered
    }
    shared = {
        name: pytensor.shared(np.asarray(draws[0]), name=f"{name}_fixed")
        for name, draws in fixed_draws.items()
    }
    model = pm.do(model, shared)
    drawn = [name for name in names if name not in shared]
    function = pm.compile(
        [],
        [model[name] for name in [*drawn, rung.observed.name]],
        random_seed=seed,
        mode=QUICK_MODE,
    )
    values = {name: [] for name in [*names, rung.observed.name]}
    for replicate in range(replicates):
        for name, variable in shared.items():
            variable.set_value(np.asarray(fixed_draws[name][replicate]))
            values[name].append(fixed_draws[name][replicate])
        for name, value in zip([*drawn, rung.observed.name], function(), strict=True):
            values[name].append(np.asarray(value))
    dims = rung.model.named_vars_to_dims
    prior = xr.Dataset(
        {
            name: (("draw", *(dims.get(name) or _anonymous(name, np.ndim(v[0])))), np.stack(v))
            for name, v in values.items()
            if name != rung.observed.name
        },
        coords={
            dim: list(rung.model.coords[dim])
            for name in names
            for dim in dims.get(name) or ()
            if rung.model.coords.get(dim) is not None
        },
    )
    return prior, np.stack(values[rung.observed.name])


def _anonymous(name: str, ndim: int) -> tuple[str, ...]:
    return tuple(f"{name}_dim_{axis}" for axis in range(ndim))


def progress_key(spec: dict, sources_sha256: str) -> str:
    """What a kept replicate must match to be reused: the settings and the job's inputs."""
    return canonical_hash({"spec": spec, "sources": sources_sha256})


def run_batch(
    spec: dict,
    data: pd.DataFrame,
    batch: int,
    kept: Path,
    cores: int,
    sources_sha256: str = "",
) -> pd.DataFrame:
    """The ranks of one batch of replicates: a row per replicate and hypothesis (H1: the
    rung's prior; H0, with `sbc.bayes_factor`, the same with the treatment's effect at
    zero). `sources_sha256` is the hash of the job's input files (code and data);
    finished replicates are kept in `kept`."""
    settings = spec["sbc"]
    first = batch * settings["batch_size"]
    replicates = range(first, min(first + settings["batch_size"], settings["replicates"]))
    tasks = [(r, "H1") for r in replicates]
    if settings.get("bayes_factor") and spec.get("treatment"):
        tasks += [(r, "H0") for r in replicates]
    key = progress_key(spec, sources_sha256)
    kept.mkdir(parents=True, exist_ok=True)
    done = {}
    for task in tasks:
        path = kept / _record_name(*task)
        if path.exists() and (record := json.loads(path.read_text())).get("key_sha256") == key:
            done[task] = record["ranks"]
    todo = [task for task in tasks if task not in done]
    if done:
        log.info("batch %d: %d replicates already done, %d to go", batch, len(done), len(todo))
    if todo:
        done |= fit_replicates(spec, data, todo, kept, key, cores, batch)
    rows = [{"replicate": r, "hypothesis": h, **done[(r, h)]} for r, h in tasks if (r, h) in done]
    table = pd.DataFrame(rows)
    return table[[c for c in META if c in table] + [c for c in table.columns if c not in META]]


def _record_name(replicate: int, hypothesis: str) -> str:
    return f"replicate{replicate}.json" if hypothesis == "H1" else f"null{replicate}.json"


def fit_replicates(spec, data, todo: list, kept: Path, key: str, cores: int, batch: int) -> dict:
    """Fit each (replicate, hypothesis) of `todo`, keeping each as it finishes. A rung
    with no Savage-Dickey ratio (no fixed prior on the treatment) fits no null ones."""
    from replication_ladder.models.kinds import build_rung
    from replication_ladder.models.samplers import compile_rung
    from replication_ladder.verdict.effect_density import EffectDensity

    settings = spec["sbc"]
    progress = Progress(f"sbc {spec['dataset']}/{spec['model']} batch {batch}")
    progress.phase("simulating from the prior")
    rung = build_rung(spec, data)
    density = EffectDensity.of(rung)
    simulations = {"H1": prior_simulations(rung, settings["replicates"], settings["seed"])}
    if density is None:
        todo = [task for task in todo if task[1] == "H1"]
    elif any(hypothesis == "H0" for _, hypothesis in todo):
        null_seed = derive_seed(settings["seed"], "null")
        fixed = {density.effect: np.asarray(0.0)}
        simulations["H0"] = prior_simulations(rung, settings["replicates"], null_seed, fixed)
    progress.phase("compiling")
    compiled = compile_rung(rung, spec["sampling"])
    names = ranked_parameters(rung)
    progress.phase("fitting replicates")
    done = {}
    for fitted, (replicate, hypothesis) in enumerate(todo, start=1):
        prior, outcomes = simulations[hypothesis]
        truth = None
        if hypothesis == "H1":
            truth = {name: prior[name].isel(draw=replicate).values for name in names}
        null = () if hypothesis == "H1" else ("null",)
        seed = derive_seed(settings["seed"], "fit", str(replicate), *null)
        ranks = replicate_ranks(
            rung, compiled, truth, outcomes[replicate], seed, cores, density=density
        )
        record = {"key_sha256": key, "ranks": ranks}
        write_json(kept / _record_name(replicate, hypothesis), record)
        done[(replicate, hypothesis)] = ranks
        log.info(
            "replicate %d (%s): %d draws ranked, %d divergences, log BF10 %s",
            replicate,
            hypothesis,
            ranks["draws_ranked"],
            ranks["divergences"],
            ranks["log_bf10"],
        )
        progress.steps(fitted, len(todo), "replicates")
    return done
