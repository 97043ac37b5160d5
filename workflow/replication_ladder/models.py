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
            return {rv.name: _pymc_prior(rv) for rv in self.pymc_model.free_RVs}
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
            return self.bambi_model.fit(inference_method=sampling["sampler"], **settings)
        return pm.sample(model=self.pymc_model, nuts_sampler=sampling["sampler"], **settings)

    def add_log_likelihood(self, idata) -> None:
        """Pointwise log-likelihood of the observed rows, for LOO (in place)."""
        import pymc as pm

        if self.bambi_model is not None:
            # Bambi's own: its posterior holds the uncentred intercept.
            self.bambi_model.compute_log_likelihood(idata)
            # It leaves the linear predictor (draws x rows) in the posterior; drop it.
            posterior = idata["posterior"].to_dataset()
            per_row = [name for name, v in posterior.data_vars.items() if "__obs__" in v.dims]
            idata["posterior"] = posterior.drop_vars(per_row).drop_dims("__obs__", errors="ignore")
        else:
            pm.compute_log_likelihood(
                idata, model=self.pymc_model, extend_inferencedata=True, progressbar=False
            )


def _pymc_prior(rv) -> dict:
    op = rv.owner.op
    return {"dist": getattr(op, "name", type(op).__name__), "dims": list(rv.type.shape)}


def build(spec: dict, data: pd.DataFrame) -> LadderModel:
    """Build the model `spec` describes on `data`; errors name dataset, model and term."""
    where = f"datasets.{spec['dataset']}.models.{spec['model']}"
    check_sampler_available(spec["sampling"]["sampler"], f"{where}.sampling.sampler")
    if spec["kind"] == "pymc":
        from replication_ladder.builders import resolve_builder

        builder = resolve_builder(spec["builder"], f"{where}.builder")
        return LadderModel(spec, builder(data))
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
    return LadderModel(spec, model.backend.model, model)
