"""Build one rung of the ladder: a Bambi formula, or a PyMC model from a builder.

Both kinds come out as a `LadderModel` with the same surface (sample, log-likelihood,
priors as used), so the fit, the comparison and the predictions treat them alike.
"""

import importlib.util
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from replication_ladder.errors import ModelError

log = logging.getLogger(__name__)

# Sampler name in the config -> Bambi's inference_method / PyMC's nuts_sampler.
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


def _plain(value: Any) -> Any:
    """A prior argument as JSON: numbers and lists, nested priors as dicts."""
    import bambi as bmb

    if isinstance(value, bmb.Prior):
        return {"dist": value.name, **{k: _plain(v) for k, v in value.args.items()}}
    array = np.asarray(value)
    if array.dtype.kind in "fiu":
        return array.item() if array.ndim == 0 else array.tolist()
    return str(value)


def to_bambi_prior(spec: dict):
    """`{dist: Normal, mu: 0, sigma: {dist: HalfNormal, sigma: 1}}` as a bmb.Prior."""
    import bambi as bmb

    args = {k: to_bambi_prior(v) if isinstance(v, dict) else v for k, v in spec.items()}
    return bmb.Prior(args.pop("dist"), **args)


@dataclass
class LadderModel:
    """A built model: the PyMC graph and, for formulas, the Bambi model around it."""

    spec: dict
    data: pd.DataFrame  # the rows the model is fitted to
    pymc_model: Any
    bambi_model: Any = None

    @property
    def where(self) -> str:
        return f"datasets.{self.spec['dataset']}.models.{self.spec['model']}"

    def description(self) -> str:
        """What `print(model)` shows: formula, family, link and the priors used."""
        if self.bambi_model is not None:
            return str(self.bambi_model)
        return str(self.pymc_model.str_repr())

    def priors(self) -> dict:
        """The priors the model actually used, by term (Bambi's names)."""
        if self.bambi_model is None:
            return _pymc_priors(self.pymc_model)
        priors = {}
        for name, component in self.bambi_model.parameters.items():
            if hasattr(component, "terms"):
                for term_name, term in component.terms.items():
                    if getattr(term, "prior", None) is not None:
                        priors[term_name] = _plain(term.prior)
            elif getattr(component, "prior", None) is not None:
                priors[name] = _plain(component.prior)
        return priors

    def sample(self, sampling: dict, seed: int, cores: int):
        """Draw from the posterior with the configured sampler, seeded."""
        import pymc as pm

        settings = {
            "draws": sampling["draws"],
            "tune": sampling["tune"],
            "chains": sampling["chains"],
            "cores": cores,
            "random_seed": seed,
            "target_accept": sampling["target_accept"],
            "progressbar": False,
        }
        if self.bambi_model is not None:
            # Offsets stay: moment matching needs every free variable of the model.
            return self.bambi_model.fit(
                inference_method=sampling["sampler"], omit_offsets=False, **settings
            )
        # Free variables only: a deterministic over rows (mu) would double the trace.
        names = [rv.name for rv in self.pymc_model.free_RVs]
        return pm.sample(
            model=self.pymc_model, nuts_sampler=sampling["sampler"], var_names=names, **settings
        )

    def add_log_likelihood(self, idata) -> None:
        """Pointwise log-likelihood of the observed rows, for LOO (in place)."""
        import xarray as xr

        posterior = xr.DataTree.from_dict({"posterior": idata["posterior"].to_dataset()})
        if self.bambi_model is not None:
            # Bambi reports the intercept of uncentred predictors; the PyMC graph has the
            # centred one. Bambi's own compute_log_likelihood gives the same numbers (to
            # 1e-14, tested) about 15 times slower on the RRR.
            posterior = self.bambi_model._re_center_intercept(posterior)
        (observed,) = self.pymc_model.observed_RVs
        dims = self.pymc_model.named_vars_to_dims.get(observed.name) or ("__obs__",)
        values = pointwise_log_likelihood(self.pymc_model, posterior["posterior"].to_dataset())
        idata["log_likelihood"] = xr.Dataset(
            {observed.name: (("chain", "draw", *dims), values)},
            coords={"chain": idata["posterior"]["chain"], "draw": idata["posterior"]["draw"]},
        )

    def posterior_predictive(self, idata, n_draws: int, seed: int) -> np.ndarray:
        """`n_draws` replicated datasets (draws spread evenly over the chains), for
        posterior predictive checks: an (n_draws, rows) array."""
        import pymc as pm
        import xarray as xr

        stacked = idata["posterior"].to_dataset().stack(sample=("chain", "draw"))
        picks = np.linspace(0, stacked.sizes["sample"] - 1, n_draws).round().astype(int)
        subset = (
            stacked.isel(sample=picks)
            .drop_vars(["sample", "chain", "draw"])
            .rename(sample="draw")
            .assign_coords(draw=np.arange(n_draws))
            .expand_dims(chain=[0])
            .transpose("chain", "draw", ...)
        )
        tree = xr.DataTree.from_dict({"posterior": subset})
        if self.bambi_model is not None:
            predicted = self.bambi_model.predict(
                tree, kind="response", inplace=False, random_seed=seed
            )
        else:
            predicted = pm.sample_posterior_predictive(
                tree, model=self.pymc_model, random_seed=seed, progressbar=False
            )
        (values,) = predicted["posterior_predictive"].to_dataset().data_vars.values()
        return np.asarray(values.values).reshape(n_draws, -1)

    def predict(self, posterior, rows: pd.DataFrame, seed: int):
        """Draws of the expected value and of a new observation for `rows`: two
        (draws, rows) arrays. Bambi: model.predict with kind "response" (which adds the
        response parameters, kind "response_params", on the way); PyMC: pm.set_data and
        pm.sample_posterior_predictive."""
        import pymc as pm

        if self.bambi_model is not None:
            predicted = self.bambi_model.predict(
                posterior, kind="response", data=rows, inplace=False, random_seed=seed
            )
            expected = predicted["posterior"][self.bambi_model.family.likelihood.parent]
            (observed,) = predicted["posterior_predictive"].to_dataset().data_vars.values()
        else:
            from replication_ladder.builders import resolve_builder

            builder = resolve_builder(self.spec["builder"], f"{self.where}.builder")
            with self.pymc_model:
                pm.set_data(builder.data(rows), coords=builder.coords(rows))
                predicted = pm.sample_posterior_predictive(
                    posterior,
                    var_names=[builder.expected, builder.response],
                    random_seed=seed,
                    progressbar=False,
                )
            expected = predicted["posterior_predictive"][builder.expected]
            observed = predicted["posterior_predictive"][builder.response]
        return _draws_by_row(expected), _draws_by_row(observed)

    def log_likelihood_on(self, idata, data: pd.DataFrame, seed: int):
        """Pointwise log-likelihood of other rows (held out), as (chain, draw, __obs__).

        Rows of groups the fit never saw (a held-out site) get new group effects, drawn
        per posterior draw as Bambi does (brms's sample_new_levels="uncertainty").
        """
        import warnings

        import xarray as xr

        posterior = xr.DataTree.from_dict({"posterior": idata["posterior"].to_dataset()})
        if self.bambi_model is None:
            from replication_ladder.builders import log_likelihood_on

            return log_likelihood_on(self.spec["builder"], self.pymc_model, posterior, data)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "'sample_new_groups' is deprecated")
            predicted = self.bambi_model.predict(
                posterior,
                kind="response_params",
                data=data,
                inplace=False,
                sample_new_groups=True,
                random_seed=seed,
            )
        return self.bambi_model.family.log_likelihood(
            model=self.bambi_model, posterior=predicted["posterior"].to_dataset(), data=data
        ).transpose("chain", "draw", "__obs__")


def _draws_by_row(values) -> np.ndarray:
    """(chain, draw, rows) draws as a (draws, rows) array."""
    array = np.asarray(values.values)
    return array.reshape(array.shape[0] * array.shape[1], -1)


def pointwise_log_likelihood(model, posterior, chunk: int = 500) -> np.ndarray:
    """log p(y_i | theta_s) for every draw s and row i: (chain, draw, *rows).

    One PyTensor function of the observed variable's elementwise log-density, vectorised
    over a batch of draws, evaluated in chunks of draws to bound memory.
    """
    import pytensor
    import pytensor.tensor as pt
    from pymc.model.transform.conditioning import remove_value_transforms

    # Without value transforms the inputs are the constrained draws the posterior holds.
    unconstrained = remove_value_transforms(model)
    (observed,) = unconstrained.observed_RVs
    elementwise = unconstrained.logp(vars=[observed], sum=False)[0]
    inputs = list(unconstrained.value_vars)
    shapes = [posterior[v.name].shape[2:] for v in inputs]
    batch = {
        v: pt.tensor(f"draws_{i}", shape=(None, *shape), dtype=v.dtype)
        for i, (v, shape) in enumerate(zip(inputs, shapes, strict=True))
    }
    function = pytensor.function(
        list(batch.values()),
        pytensor.graph.vectorize_graph(elementwise, replace=batch),
        on_unused_input="ignore",
    )
    n_chains, n_draws = posterior.sizes["chain"], posterior.sizes["draw"]
    flat = [
        posterior[v.name].values.reshape(n_chains * n_draws, *shape)
        for v, shape in zip(inputs, shapes, strict=True)
    ]
    values = np.concatenate(
        [
            function(*(draws[start : start + chunk] for draws in flat))
            for start in range(0, n_chains * n_draws, chunk)
        ]
    )
    return values.reshape(n_chains, n_draws, *values.shape[1:])


def formula_columns(formula: str) -> list[str]:
    import formulae

    return sorted(formulae.model_description(formula).var_names)


def model_rows(spec: dict, data: pd.DataFrame) -> pd.DataFrame:
    """The rows a formula can use: Bambi would drop rows missing any of its columns
    silently; dropping them here keeps row numbers, LOO and refits aligned and logged."""
    if spec["kind"] != "bambi":
        return data
    columns = formula_columns(spec["formula"])
    complete = data[columns].notna().all(axis=1)
    if not complete.all():
        log.warning(
            "%s/%s: %d rows miss a value in %s and are left out of this model",
            spec["dataset"],
            spec["model"],
            int((~complete).sum()),
            ", ".join(columns),
        )
    return data[complete].reset_index(drop=True)


def _pymc_priors(model) -> dict:
    """The free variables' priors as PyMC prints them: {"m": {"dist": "Normal",
    "args": "0, 1"}}."""
    free = {rv.name for rv in model.free_RVs}
    priors = {}
    for line in model.str_repr().splitlines():
        name, _, distribution = (part.strip() for part in line.partition("~"))
        if name in free:
            dist, _, args = distribution.partition("(")
            priors[name] = {"dist": dist.strip(), "args": args.rstrip(")")}
    return priors


def build(spec: dict, data: pd.DataFrame) -> LadderModel:
    """Build the model `spec` describes on the usable rows of `data`; errors name dataset,
    model and term."""
    where = f"datasets.{spec['dataset']}.models.{spec['model']}"
    check_sampler_available(spec["sampling"]["sampler"], f"{where}.sampling.sampler")
    data = model_rows(spec, data)
    if spec["kind"] == "pymc":
        from replication_ladder.builders import resolve_builder

        builder = resolve_builder(spec["builder"], f"{where}.builder")
        return LadderModel(spec, data, builder(data))
    return _build_bambi(spec, data, where)


def _build_bambi(spec: dict, data: pd.DataFrame, where: str) -> LadderModel:
    import bambi as bmb

    priors = {}
    for term, prior in spec["priors"].items():
        try:
            priors[term] = to_bambi_prior(prior)
        except Exception as error:
            raise ModelError(f"{where}.priors.{term}: {error}") from error
    try:
        model = bmb.Model(spec["formula"], data, family=spec["family"], priors=priors or None)
        model.build()
    except Exception as error:
        raise ModelError(
            f"{where}: cannot build {spec['formula']!r} ({spec['family']}): "
            f"{type(error).__name__}: {error}"
        ) from error
    return LadderModel(spec, data, model.backend.model, model)
