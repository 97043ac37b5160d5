"""Fit one model of one dataset and write its artefacts.

Artefacts (stable paths under results/{dataset}/{model}/):
  posterior.nc       posterior, sample_stats, log_likelihood, observed_data (NetCDF)
  summary.parquet    one row per parameter: mean, sd, ci_low, ci_high, ess, r_hat, mcse
  diagnostics.json   sampler settings, seed, convergence figures and warnings, timings,
                     versions, hashes of the data and the model's config, provenance
  priors.json/.txt   the priors the model actually used
  ppc.parquet        100 replicated datasets (rows x draws) for posterior predictive checks
A fit that crosses a convergence threshold under strict_convergence keeps its artefacts
under failed/ instead, and its job fails with the reason.
"""

import logging
import math
import shutil
import time
from pathlib import Path

import pandas as pd

from replication_ladder import models, provenance
from replication_ladder.atomic import atomic_path, write_json, write_parquet, write_text
from replication_ladder.config import analysis_sha256
from replication_ladder.errors import ConvergenceError
from replication_ladder.fetch import sha256_file
from replication_ladder.seeds import derive_seed

log = logging.getLogger(__name__)

ARTEFACTS = ("posterior", "summary", "diagnostics", "priors_json", "priors_txt", "ppc")
FILE_NAMES = {
    "posterior": "posterior.nc",
    "summary": "summary.parquet",
    "diagnostics": "diagnostics.json",
    "priors_json": "priors.json",
    "priors_txt": "priors.txt",
    "ppc": "ppc.parquet",
}
PPC_DRAWS = 100  # replicated datasets kept for posterior predictive checks
GROUPS = ("posterior", "sample_stats", "log_likelihood", "observed_data")


def summarize(idata, ci_prob: float) -> pd.DataFrame:
    """ArviZ's summary with raw numbers and the interval as ci_low / ci_high."""
    import arviz as az

    # The non-centred offsets are kept in posterior.nc for moment matching; they are not
    # parameters anyone reports.
    names = [name for name in idata["posterior"].data_vars if not name.endswith("_offset")]
    summary = az.summary(idata, var_names=names, ci_prob=ci_prob, ci_kind="eti", round_to="none")
    lower, upper = (c for c in summary.columns if c.startswith("eti"))
    summary = summary.rename(columns={lower: "ci_low", upper: "ci_high"})
    summary.index.name = "parameter"
    return pd.DataFrame(summary).astype("float64")


def _sampling_seconds(idata) -> float | None:
    for group in ("posterior", "sample_stats"):
        seconds = idata[group].attrs.get("sampling_time")
        if seconds is not None:
            return float(seconds)
    return None


def convergence_warnings(diagnostics: dict, thresholds: dict) -> list[str]:
    """Plain sentences for every threshold a fit crossed."""
    warnings = []
    if diagnostics["divergences"] > thresholds["max_divergences"]:
        warnings.append(f"{diagnostics['divergences']} divergent transitions")
    if diagnostics["max_r_hat"] > thresholds["max_r_hat"]:
        warnings.append(
            f"r_hat up to {diagnostics['max_r_hat']:.3f} (above {thresholds['max_r_hat']})"
        )
    for kind in ("bulk", "tail"):
        ess = diagnostics[f"min_ess_{kind}"]
        if ess < thresholds["min_ess"]:
            warnings.append(f"{kind} ESS down to {ess:.0f} (below {thresholds['min_ess']})")
    return warnings


def _finite(value: float) -> float | None:
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


def write_posterior(idata, path) -> None:
    import xarray as xr

    tree = xr.DataTree.from_dict({f"/{g}": idata[g].to_dataset() for g in GROUPS if g in idata})
    with atomic_path(path) as tmp:
        tree.to_netcdf(tmp, engine="h5netcdf")


def fit_model(
    spec: dict,
    data_path: str | Path,
    outputs: dict,
    *,
    cores: int,
    thresholds: dict,
    strict: bool,
    workflow_root: Path = provenance.PACKAGE_ROOT,
    workflow_config_sha256: str | None = None,
) -> dict:
    """Build, sample, summarise and write one fit; returns its diagnostics."""
    started = time.perf_counter()
    data = pd.read_parquet(data_path)
    model = models.build(spec, data)
    description = model.description()  # before sampling: Bambi adds usage hints after
    log.info("%s\n%s", model.where, description)

    sample_started = time.perf_counter()
    idata = model.sample(spec["sampling"], spec["seed"], cores)
    sample_call = time.perf_counter() - sample_started
    model.add_log_likelihood(idata)
    summary = summarize(idata, spec["ci_prob"])
    replicated = model.posterior_predictive(
        idata, PPC_DRAWS, derive_seed(spec["seed"], "posterior-predictive")
    )

    sampling_seconds = _sampling_seconds(idata)
    diagnostics = {
        "dataset": spec["dataset"],
        "model": spec["model"],
        "kind": spec["kind"],
        "formula": spec["formula"],
        "family": spec["family"],
        "builder": spec["builder"],
        **spec["sampling"],
        "seed": spec["seed"],
        "ci_prob": spec["ci_prob"],
        "rows": len(model.data),
        **diagnose(idata, summary),
        "thresholds": thresholds,
        "sampling_seconds": sampling_seconds,
        # Compilation, initialisation and conversion: the sampler call minus sampling.
        "compile_seconds": None if sampling_seconds is None else sample_call - sampling_seconds,
        "data_sha256": sha256_file(data_path),
        "config_sha256": spec["config_sha256"],
        "workflow_config_sha256": workflow_config_sha256,
        "provenance": provenance.collect(workflow_root),
    }
    diagnostics["warnings"] = convergence_warnings(diagnostics, thresholds)
    failed = strict and bool(diagnostics["warnings"])
    diagnostics["status"] = "failed" if failed else "warnings" if diagnostics["warnings"] else "ok"

    directory = Path(outputs["summary"]).parent
    failed_dir = directory / "failed"
    if failed:
        outputs = {key: failed_dir / FILE_NAMES[key] for key in ARTEFACTS}
    else:
        shutil.rmtree(failed_dir, ignore_errors=True)  # an earlier attempt's leftovers
    write_posterior(idata, outputs["posterior"])
    write_parquet(outputs["summary"], summary)
    write_json(outputs["priors_json"], model.priors())
    write_text(outputs["priors_txt"], description + "\n")
    # float32: the draws are only drawn in plots.
    write_parquet(
        outputs["ppc"],
        pd.DataFrame(
            replicated.T.astype("float32"), columns=[f"draw_{i}" for i in range(PPC_DRAWS)]
        ).rename_axis("row"),
    )
    diagnostics["wall_seconds"] = time.perf_counter() - started
    write_json(outputs["diagnostics"], diagnostics)
    for warning in diagnostics["warnings"]:
        log.warning("%s: %s", model.where, warning)
    if failed:
        raise ConvergenceError(
            f"{spec['dataset']}/{spec['model']} did not converge "
            f"({'; '.join(diagnostics['warnings'])}); strict_convergence is on, so its "
            f"artefacts are kept in {failed_dir}/ and not at the stable paths"
        )
    return diagnostics


def main(snakemake) -> None:
    diagnostics = fit_model(
        snakemake.params.spec,
        snakemake.input.data,
        {key: snakemake.output[key] for key in ARTEFACTS},
        cores=snakemake.threads,
        thresholds=snakemake.config["convergence"],
        strict=snakemake.config["strict_convergence"],
        workflow_root=Path(snakemake.scriptdir).parents[1],  # the Snakefile's checkout
        workflow_config_sha256=analysis_sha256(snakemake.config),
    )
    log.info(
        "%s/%s: %d divergences, max r_hat %s, min ESS bulk %s; sampling %.1f s",
        diagnostics["dataset"],
        diagnostics["model"],
        diagnostics["divergences"],
        diagnostics["max_r_hat"],
        diagnostics["min_ess_bulk"],
        diagnostics["sampling_seconds"] or float("nan"),
    )


def gather_diagnostics(paths) -> pd.DataFrame:
    """One row per fit from the diagnostics files (nested fields flattened)."""
    import json

    rows = []
    for path in paths:
        record = json.loads(Path(path).read_text())
        record["warnings"] = "; ".join(record["warnings"])
        rows.append(record)
    table = pd.json_normalize(rows, sep=".")
    return table.set_index(["dataset", "model"]).sort_index()


def gather_main(snakemake) -> None:
    write_parquet(snakemake.output[0], gather_diagnostics(snakemake.input.diagnostics))
