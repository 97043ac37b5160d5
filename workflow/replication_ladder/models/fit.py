"""Fit one rung of one dataset and write its artefacts (replication_ladder.base.paths.FIT):

  posterior.nc       posterior, sample_stats, log_likelihood (float32), log_prior,
                     observed_data, log_likelihood_total (per draw), outcome_effect,
                     effect_density (the effect's conditional density at zero per draw)
  summary.parquet    one row per parameter: mean, sd, ci_low, ci_high, ess, r_hat, mcse
  diagnostics.json   sampler settings, seed, convergence figures and warnings, prior and
                     likelihood sensitivity flags, timings, versions, hashes, provenance
  priors.json/.txt   the priors the model actually used
  ppc.parquet        100 replicated datasets (rows x draws) for posterior predictive checks
  psense.parquet     power-scaling sensitivity of the prior and the likelihood per parameter
  psis_loo.parquet   PSIS-LOO per observation (elpd_i, p_loo_i, pareto_k), totals in its
                     metadata: done here, a block of rows at a time, as the
                     log-likelihood is computed (models.pointwise)

A fit that crosses a convergence threshold under strict_convergence keeps its artefacts
under failed/ instead, and its job fails with the reason.
"""

import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import xarray as xr

from replication_ladder.base import paths, provenance
from replication_ladder.base.atomic import (
    place,
    scratch_beside,
    write_json,
    write_parquet,
    write_text,
)
from replication_ladder.base.errors import ConvergenceError
from replication_ladder.base.hashing import sha256_file
from replication_ladder.base.progress import Progress
from replication_ladder.base.seeds import derive_seed
from replication_ladder.models.densities import Densities, log_prior_group
from replication_ladder.models.kinds import build_rung
from replication_ladder.models.pointwise import TOTAL_GROUP, write_pointwise
from replication_ladder.models.samplers import compile_rung
from replication_ladder.scoring import elpd_loo
from replication_ladder.scoring.elpd_loo import observed_sha256, relative_efficiency
from replication_ladder.scoring.sensitivity import power_scaling
from replication_ladder.verdict.effect_density import EFFECT_DENSITY_GROUP, effect_at_zero

log = logging.getLogger(__name__)

RECORDED_SPEC = ("dataset", "model", "kind", "level", "formula", "family", "builder")

PPC_DRAWS = 100  # replicated datasets kept for posterior predictive checks
OUTCOME_EFFECT_DRAWS = 400  # draws of the treatment's effect on the outcome's scale
# outcome_effect: the treatment's effect on the expected outcome, for rungs whose
# coefficient is on another scale (an ordinal rung's latent scale).
GROUPS = (
    "posterior",
    "sample_stats",
    "log_likelihood",
    "log_prior",
    "observed_data",
    "outcome_effect",
    EFFECT_DENSITY_GROUP,
    TOTAL_GROUP,
)


def reported_parameters(posterior) -> list[str]:
    """The variables a summary shows: not the offsets of non-centred group effects, kept
    in posterior.nc for moment matching but not parameters anyone reports."""
    return [name for name in posterior.data_vars if not name.endswith("_offset")]


def summarize(idata, ci_prob: float) -> pd.DataFrame:
    """ArviZ's summary with raw numbers and the interval as ci_low / ci_high."""
    import arviz as az

    names = reported_parameters(idata["posterior"])
    summary = az.summary(idata, var_names=names, ci_prob=ci_prob, ci_kind="eti", round_to="none")
    lower, upper = (c for c in summary.columns if c.startswith("eti"))
    summary = summary.rename(columns={lower: "ci_low", upper: "ci_high"})
    summary.index.name = "parameter"
    return pd.DataFrame(summary).astype("float64")


def convergence_warnings(diagnostics: dict, thresholds: dict) -> list[str]:
    """Plain sentences for every threshold a fit crossed."""
    warnings = []
    if diagnostics["divergences"] > thresholds["max_divergences"]:
        warnings.append(f"{diagnostics['divergences']} divergent transitions")
    if diagnostics["max_r_hat"] is not None and diagnostics["max_r_hat"] > thresholds["max_r_hat"]:
        warnings.append(
            f"r_hat up to {diagnostics['max_r_hat']:.3f} (above {thresholds['max_r_hat']})"
        )
    for kind in ("bulk", "tail"):
        ess = diagnostics[f"min_ess_{kind}"]
        if ess is not None and ess < thresholds["min_ess"]:
            warnings.append(f"{kind} ESS down to {ess:.0f} (below {thresholds['min_ess']})")
    return warnings


def _finite(value) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def diagnose(idata, summary: pd.DataFrame) -> dict:
    """The convergence figures of a fit (NaN r_hat of constant draws is ignored)."""
    diverging = idata["sample_stats"]["diverging"]
    return {
        "divergences": int(diverging.sum()),
        "max_r_hat": _finite(summary["r_hat"].max()),
        "min_ess_bulk": _finite(summary["ess_bulk"].min()),
        "min_ess_tail": _finite(summary["ess_tail"].min()),
    }


def append_groups(idata, path) -> None:
    """Add the fit's groups (all but the log-likelihood, already in `path`) to the
    netCDF file `path`."""
    for group in GROUPS:
        if group in idata and group != "log_likelihood":
            idata[group].to_dataset().to_netcdf(path, mode="a", group=group, engine="h5netcdf")


def with_densities(rung, raw, path: Path):
    """The draws as reported, with the log-prior, the observed data, the per-draw total
    of the log-likelihood and the effect's density at zero; the pointwise log-likelihood
    goes to the new netCDF file `path` (models.pointwise). Returns (idata, Pointwise)."""
    densities = Densities(rung)
    # The densities take the draws in the model's own parameterisation, as sampled:
    # before `finish`.
    posterior = raw["posterior"].to_dataset()
    log_prior = densities.log_prior(posterior)
    idata = rung.finish(raw)
    idata["log_prior"] = log_prior_group(log_prior, posterior)
    dims = rung.model.named_vars_to_dims.get(rung.observed.name) or ("__obs__",)
    observed = rung.rows()[rung.observed_data_name]
    idata["observed_data"] = xr.Dataset({rung.observed.name: (dims, observed)})
    pointwise = write_pointwise(rung, densities, posterior, relative_efficiency(idata), path)
    idata[TOTAL_GROUP] = xr.Dataset({"total": pointwise.totals})
    at_zero = effect_at_zero(rung, posterior, pointwise.totals)
    if at_zero is not None:
        idata[EFFECT_DENSITY_GROUP] = at_zero
    return idata, pointwise


@dataclass(frozen=True)
class Checked:
    """What the checking phase makes of a sampled rung: everything a fit writes."""

    idata: object
    summary: pd.DataFrame
    sensitivity: object
    loo_table: pd.DataFrame
    replicated: object
    psis_loo_seconds: float


def check(rung, raw, spec: dict, path: Path) -> Checked:
    """Densities, summary, power-scaling sensitivity, PSIS-LOO, predictive draws and the
    treatment's effect on the outcome's scale; the pointwise log-likelihood is written
    to the new netCDF file `path` on the way."""
    idata, pointwise = with_densities(rung, raw, path)
    n_samples = idata["posterior"].sizes["chain"] * idata["posterior"].sizes["draw"]
    loo_table = elpd_loo.loo_table(
        (pointwise.elpd_i, pointwise.p_loo_i, pointwise.pareto_k),
        n_samples=n_samples,
        r_eff=pointwise.r_eff,
        observed=observed_sha256(idata),
        unscorable=pointwise.unscorable,
    )
    replicated = rung.posterior_predictive(
        idata, PPC_DRAWS, derive_seed(spec["seed"], "posterior-predictive")
    )
    if spec["treatment"] is not None:
        effect = rung.outcome_effect(
            idata, spec["treatment"], OUTCOME_EFFECT_DRAWS, derive_seed(spec["seed"], "effect")
        )
        if effect is not None:
            idata["outcome_effect"] = xr.Dataset(
                {spec["treatment"]: (("chain", "draw"), effect[None, :])}
            )
    summary = summarize(idata, spec["ci_prob"])
    sensitivity = power_scaling(idata, reported_parameters(idata["posterior"]))
    return Checked(idata, summary, sensitivity, loo_table, replicated, pointwise.seconds)


def fit_record(spec: dict, rung, checked: Checked, timings: dict, context: dict) -> dict:
    """diagnostics.json: settings, convergence figures and warnings, sensitivity flags,
    timings, hashes and provenance; its status says whether the fit is kept."""
    thresholds = context["settings"]["convergence"]
    sensitivity = checked.sensitivity
    record = {
        **{key: spec[key] for key in RECORDED_SPEC},
        **spec["sampling"],
        "seed": spec["seed"],
        "ci_prob": spec["ci_prob"],
        "rows": rung.n_rows,
        **diagnose(checked.idata, checked.summary),
        "thresholds": thresholds,
        **timings,
        "psis_loo_seconds": checked.psis_loo_seconds,
        "prior_data_conflict": sensitivity.flagged("potential prior-data conflict"),
        "weak_likelihood": sensitivity.flagged("potential strong prior / weak likelihood"),
        "data_sha256": sha256_file(context["data_path"]),
        "config_sha256": spec["config_sha256"],
        "workflow_config_sha256": context["workflow_config_sha256"],
        "provenance": provenance.collect(context["workflow_root"], threads=context["cores"]),
    }
    record["warnings"] = convergence_warnings(record, thresholds)
    failed = context["settings"]["strict"] and bool(record["warnings"])
    record["status"] = "failed" if failed else "warnings" if record["warnings"] else "ok"
    return record


def write_fit(outputs: dict, rung, checked: Checked, description: str, scratch: Path) -> None:
    """Every artefact of a fit but its diagnostics, each written atomically: the
    posterior's groups join its log-likelihood in `scratch`, which is then moved into
    place."""
    append_groups(checked.idata, scratch)
    Path(outputs["posterior"]).parent.mkdir(parents=True, exist_ok=True)
    place(scratch, outputs["posterior"])
    write_parquet(outputs["summary"], checked.summary)
    write_parquet(outputs["psense"], checked.sensitivity.table)
    write_parquet(outputs["psis"], checked.loo_table)
    write_json(outputs["priors_json"], rung.priors())
    write_text(outputs["priors_txt"], description + "\n")
    # float32: the draws are only drawn in plots.
    replicated = checked.replicated.T.astype("float32")
    columns = [f"draw_{i}" for i in range(PPC_DRAWS)]
    write_parquet(outputs["ppc"], pd.DataFrame(replicated, columns=columns).rename_axis("row"))


def fit_rung(
    spec: dict,
    data_path: str | Path,
    outputs: dict,
    *,
    cores: int,
    settings: dict,
    workflow_root: Path = provenance.PACKAGE_ROOT,
    workflow_config_sha256: str | None = None,
) -> dict:
    """Build, sample, check and write one fit; returns its diagnostics."""
    started = time.perf_counter()
    progress = Progress(f"{spec['dataset']}/{spec['model']}")
    progress.phase("building")
    rung = build_rung(spec, pd.read_parquet(data_path))
    description = rung.description()  # before sampling: Bambi adds usage hints after
    log.info("%s\n%s", rung.where, description)

    compiled = compile_rung(rung, spec["sampling"], progress=progress)
    raw = compiled.sample(spec["seed"], cores)
    progress.phase("checking (diagnostics, sensitivity, predictive draws, PSIS-LOO)")
    timings = {
        "sampling_seconds": float(raw["posterior"].attrs["sampling_time"]),
        "compile_seconds": compiled.compile_seconds,
    }
    context = {
        "settings": settings,
        "data_path": data_path,
        "cores": cores,
        "workflow_root": workflow_root,
        "workflow_config_sha256": workflow_config_sha256,
    }
    with scratch_beside(outputs["posterior"]) as scratch:
        checked = check(rung, raw, spec, scratch)
        diagnostics = fit_record(spec, rung, checked, timings, context)
        progress.phase("writing")
        failed = diagnostics["status"] == "failed"
        failed_dir = Path(outputs["summary"]).parent / paths.FAILED_DIR
        if failed:
            outputs = {key: failed_dir / Path(path).name for key, path in outputs.items()}
        else:
            shutil.rmtree(failed_dir, ignore_errors=True)  # an earlier attempt's leftovers
        write_fit(outputs, rung, checked, description, scratch)
    diagnostics["wall_seconds"] = time.perf_counter() - started
    write_json(outputs["diagnostics"], diagnostics)
    for warning in diagnostics["warnings"]:
        log.warning("%s: %s", rung.where, warning)
    if failed:
        raise ConvergenceError(
            f"{spec['dataset']}/{spec['model']} did not converge "
            f"({'; '.join(diagnostics['warnings'])}); strict_convergence is on, so its "
            f"artefacts are kept in {failed_dir}/ and not at the stable paths"
        )
    return diagnostics
