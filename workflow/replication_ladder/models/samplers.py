"""Compile once, sample many: a rung's model compiled for its sampler, refitted to other
rows or other outcomes by swapping its data.

nutpie (the default) compiles the log density with Numba once (`compile_pymc_model`,
its callbacks cached across processes by nutpie_cache.py) and swaps the shared
containers per fit (`with_data`); PyMC's own NUTS and NumPyro read the
containers' values (set with `set_value`) and reuse PyTensor's compile cache. Either way
a refit with the same seed draws what a fresh fit of the same data draws (tested).
"""

import importlib.util
import logging
import time

from replication_ladder.base.errors import ModelError
from replication_ladder.base.progress import NutpieChains, Progress, PymcChains
from replication_ladder.models import nutpie_cache

log = logging.getLogger(__name__)

SAMPLERS = ("nutpie", "pymc", "numpyro")


def check_sampler_available(sampler: str, where: str) -> None:
    """numpyro is optional: say how to install it before anything is sampled."""
    if sampler != "numpyro":
        return
    missing = [name for name in ("jax", "numpyro") if importlib.util.find_spec(name) is None]
    if missing:
        raise ModelError(
            f"{where}: sampler 'numpyro' needs {' and '.join(missing)}, which are not installed. "
            "Install the optional extra with `.venv/bin/pip install -e '.[numpyro]'` "
            "(NumPyro and JAX, CPU build), or choose sampler nutpie or pymc."
        )


class CompiledRung:
    """A rung ready to sample any of its datasets: the same model, other data.

    With a `progress`, compiling and sampling report where they are (progress.py)."""

    def __init__(
        self, rung, sampling: dict, data: dict | None = None, progress: Progress | None = None
    ):
        self.rung = rung
        self.sampling = sampling
        self.sampler = sampling["sampler"]
        self.progress = progress
        self.compile_seconds = 0.0
        # The data compiled in (every row unless given): what `sample` uses by default.
        self.data = rung.rows() if data is None else data
        self._nutpie = None
        self.sampled, self.derived = split_stored(rung)
        if self.sampler == "nutpie":
            started = time.perf_counter()
            if progress is not None:
                progress.phase("compiling for nutpie")
            rung.set_rows(self.data)
            self._nutpie = nutpie_cache.compile_pymc_model(rung.model, var_names=self.sampled)
            self._nutpie_names = {var.name for var in self._nutpie.shared_var_keys}
            self.compile_seconds = time.perf_counter() - started

    def sample(self, seed: int, cores: int, data: dict | None = None):
        """Posterior draws (a DataTree with posterior and sample_stats, in the model's
        own parameterisation) for `data` (the shared containers' values; the data
        compiled in when None). `sampling_time` is set on the posterior."""
        settings = self.sampling
        progress = self.progress
        if progress is not None:
            progress.phase(f"sampling with {self.sampler}")
        started = time.perf_counter()
        if self._nutpie is not None:
            import nutpie

            compiled = self._nutpie
            if data is not None:
                known = {name: value for name, value in data.items() if name in self._nutpie_names}
                compiled = compiled.with_data(**known)
            idata = nutpie.sample(
                compiled,
                draws=settings["draws"],
                # nuts-rs needs at least one tuning step.
                tune=max(settings["tune"], 1),
                chains=settings["chains"],
                cores=cores,
                seed=seed,
                target_accept=settings["target_accept"],
                save_warmup=False,
                progress_bar=False,
                progress_callback=None if progress is None else NutpieChains(progress),
                progress_rate=1000,
                adaptation=settings.get("mass_matrix", "diag"),  # the config's names are nutpie's
            )
        else:
            import pymc as pm

            if settings.get("mass_matrix") == "low_rank":
                # The rung asks for nutpie's; another sampler (a test's, a user's choice)
                # adapts its own diagonal one: said, not refused.
                log.warning(
                    "mass_matrix low_rank is nutpie's: %s adapts a diagonal one", self.sampler
                )
            self.rung.set_rows(self.data if data is None else data)
            # External samplers (numpyro) take no per-draw callback: phase lines only.
            callback = (
                PymcChains(progress, settings["chains"], settings["draws"], settings["tune"])
                if progress is not None and self.sampler == "pymc"
                else None
            )
            idata = pm.sample(
                model=self.rung.model,
                draws=settings["draws"],
                tune=settings["tune"],
                chains=settings["chains"],
                cores=cores,
                random_seed=seed,
                target_accept=settings["target_accept"],
                nuts_sampler=self.sampler,
                var_names=self.sampled,
                progressbar=False,
                compute_convergence_checks=False,
                callback=callback,
            )
        seconds = time.perf_counter() - started
        kept = _keep(idata, ("posterior", "sample_stats"), settings.get("thin", 1))
        posterior = with_derived(kept["posterior"].to_dataset(), self.rung, self.derived)
        kept["posterior"] = posterior.assign_attrs(
            sampling_time=posterior.attrs.get("sampling_time", seconds)
        )
        return kept


def split_stored(rung) -> tuple[list[str], list[str]]:
    """A rung's stored variables in two: those the sampler keeps, and the deterministics
    of the parameters alone (a group term's levels, its offsets times their SD), computed
    from the kept draws (`with_derived`). The sampler holds every draw before thinning, and
    a participant rung's levels are half of them."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.traversal import graph_inputs

    model = rung.model
    derived = []
    for name in rung.stored_variables:
        variable = model.named_vars.get(name)
        if variable is None or variable not in model.deterministics:
            continue
        inputs = graph_inputs([variable], blockers=model.free_RVs)
        if not any(isinstance(value, SharedVariable) for value in inputs):  # no row data
            derived.append(name)
    return [name for name in rung.stored_variables if name not in derived], derived


def with_derived(posterior, rung, derived: list[str]):
    """The posterior with the derived deterministics computed from its draws (PyMC's
    compute_deterministics), in the rung's order of its stored variables."""
    if not derived:
        return posterior
    import pymc as pm

    values = pm.compute_deterministics(
        posterior, var_names=derived, model=rung.model, progressbar=False
    )
    return posterior.assign(values.data_vars)[rung.stored_variables].assign_attrs(posterior.attrs)


def _keep(idata, groups, thin: int = 1):
    """The groups kept, every `thin`-th draw of them: a slowly mixing rung samples more
    draws than it stores (its ESS barely falls, its log-likelihood and NetCDF halve)."""
    import xarray as xr

    return xr.DataTree.from_dict(
        {f"/{g}": thinned(idata[g].to_dataset(), thin) for g in groups if g in idata}
    )


def thinned(group, thin: int):
    """Every `thin`-th draw of each chain. A kept draw is flagged divergent when any draw
    it stands for diverged, so that no divergence is thinned away (ArviZ's `thin` selects
    draws group by group, dropping a divergence with its draw)."""
    if thin == 1:
        return group
    kept = group.isel(draw=slice(0, group.sizes["draw"] // thin * thin, thin))
    if "diverging" in group:
        windows = group["diverging"].coarsen(draw=thin, boundary="trim", coord_func="min")
        kept["diverging"] = windows.max()
    return kept.assign_coords(draw=range(kept.sizes["draw"]))


def compile_rung(
    rung, sampling: dict, data: dict | None = None, progress: Progress | None = None
) -> CompiledRung:
    return CompiledRung(rung, sampling, data, progress)
