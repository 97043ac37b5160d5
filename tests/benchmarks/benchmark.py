"""Benchmarks of the pipeline on this machine, all measured in one run (`make benchmark`).

Writes results/benchmarks/benchmark.json and benchmark.md:
  (a) the RRR ladder (4 chains x 1000 draws after 1000 tuning steps) with each available
      sampler side by side, and Bambi's default sampler (PyMC's NUTS) at
      target_accept = 0.99 for the random slope, the Bambi chapter's setting: per fit the
      wall time of its process, sampling and compile time, divergences, and the ESS-bulk
      per second of the slowest parameter;
  (b) the whole default pipeline end to end, cold (empty compile cache and results) and
      warm (the cache kept, the results removed);
  (c) a no-op rerun and a regeneration of the reports alone;
  (d) PSIS-LOO and the comparison of the RRR ladder;
  (e) the peak memory of every fit job (Snakemake's benchmark files of the warm run).
The targets are checked and stated in the table; nothing here fails a test.
"""

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT / "tests"))
from conftest import clone_workflow  # noqa: E402  (the tests' clone: git + working tree)

PYTHON = sys.executable
TARGETS = {
    "warm_pipeline_seconds": 120,
    "random_slope_ess_per_second_ratio": 3.0,
    "loo_compare_seconds": 2.0,
    "noop_seconds": 5.0,
    "reports_seconds": 30.0,
    "fit_peak_memory_mb": 1500,
}
# (label, model, sampler, target_accept): the ladder with each sampler, and the
# Bambi chapter's setting for the random slope.
SAMPLER_RUNS = [
    *((f"nutpie {m}", m, "nutpie", 0.9) for m in ("fixed", "random_intercept", "random_slope")),
    *((f"pymc {m}", m, "pymc", 0.9) for m in ("fixed", "random_intercept", "random_slope")),
    ("bambi default (pymc, target_accept 0.99) random_slope", "random_slope", "pymc", 0.99),
]
REFERENCE = "bambi default (pymc, target_accept 0.99) random_slope"
FAST = "nutpie random_slope"


def run(command: list[str], cwd: Path, env: dict | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MB) and output of a child process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output[-4000:]}")
    return seconds, usage.ru_maxrss // 1024, output


def snakemake(workdir: Path, *args: str, config: dict) -> tuple[float, str]:
    command = [
        PYTHON,
        "-m",
        "snakemake",
        "--workflow-profile",
        "workflow/profiles/default",
        "--cores",
        "2",
        *args,
        "--config",
        *(f"{k}={v}" for k, v in config.items()),
    ]
    seconds, _, output = run(command, workdir)
    return seconds, output


# -- (a) samplers ----------------------------------------------------------------------


def fit_once(
    workdir: Path, model: str, sampler: str, target_accept: float, cache: Path, out: Path
) -> dict:
    """One fit in a fresh process, as a job would run it."""
    code = f"""
import json, sys
from replication_ladder.runtime import configure_environment
configure_environment(2, {str(cache)!r})
import yaml
from replication_ladder import fit
from replication_ladder.config import Ladder
config = yaml.safe_load(open("config/config.yaml"))
spec = Ladder(config).model_spec("rrr", {model!r})
spec["sampling"].update(sampler={sampler!r}, target_accept={target_accept!r})
outputs = {{key: {str(out)!r} + "/" + name for key, name in fit.FILE_NAMES.items()}}
d = fit.fit_model(spec, "data/processed/rrr.parquet", outputs, cores=2,
                  thresholds=config["convergence"], strict=False)
print("RESULT" + json.dumps(d))
"""
    seconds, peak_mb, output = run([PYTHON, "-c", code], workdir)
    diagnostics = json.loads(output.split("RESULT", 1)[1])
    return {
        "wall_seconds": seconds,
        "sampling_seconds": diagnostics["sampling_seconds"],
        "compile_seconds": diagnostics["compile_seconds"],
        "divergences": diagnostics["divergences"],
        "min_ess_bulk": diagnostics["min_ess_bulk"],
        "max_r_hat": diagnostics["max_r_hat"],
        "ess_bulk_per_second": diagnostics["min_ess_bulk"] / diagnostics["sampling_seconds"],
        "ess_bulk_per_wall_second": diagnostics["min_ess_bulk"] / seconds,
        "peak_memory_mb": peak_mb,
    }


def samplers(workdir: Path, cache: Path) -> dict:
    runs = list(SAMPLER_RUNS)
    if importlib.util.find_spec("numpyro") and importlib.util.find_spec("jax"):
        runs += [
            (f"numpyro {m}", m, "numpyro", 0.9)
            for m in ("fixed", "random_intercept", "random_slope")
        ]
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for label, model, sampler, target_accept in runs:
            # A first, untimed fit fills the compile cache: the timed one is warm, as
            # in every run after the first.
            fit_once(workdir, model, sampler, target_accept, cache, Path(scratch))
            results[label] = fit_once(workdir, model, sampler, target_accept, cache, Path(scratch))
            print(f"  {label}: {results[label]['wall_seconds']:.1f} s", flush=True)
    if "numpyro fixed" not in results:
        results["numpyro"] = {"skipped": "JAX and NumPyro are not installed (optional)"}
    return results


# -- (b), (c), (e) the pipeline ----------------------------------------------------------


def pipeline(workdir: Path, mirror: Path, cache: Path) -> dict:
    config = {"mirror": mirror, "compile_cache": cache}
    shutil.rmtree(cache, ignore_errors=True)
    cold, _ = snakemake(workdir, config=config)
    print(f"  cold pipeline: {cold:.0f} s", flush=True)
    for name in ("results", "reports", "logs", "data"):
        shutil.rmtree(workdir / name, ignore_errors=True)
    subprocess.run(["git", "checkout", "--", "results", "reports", "data"], cwd=workdir, check=True)
    warm, _ = snakemake(workdir, config=config)
    print(f"  warm pipeline: {warm:.0f} s", flush=True)
    noop, output = snakemake(workdir, config=config)
    assert "Nothing to be done" in output, output[-2000:]
    reports, _ = snakemake(workdir, "--forcerun", "report", config=config)
    memory = {}
    for benchmark in sorted((workdir / "results").glob("*/*/benchmark.tsv")):
        lines = benchmark.read_text().splitlines()
        row = dict(zip(lines[0].split("\t"), lines[1].split("\t"), strict=True))
        memory[f"{benchmark.parent.parent.name}/{benchmark.parent.name}"] = {
            "max_rss_mb": float(row["max_rss"]),
            "seconds": float(row["s"]),
        }
    return {
        "cold_seconds": cold,
        "warm_seconds": warm,
        "noop_seconds": noop,
        "reports_seconds": reports,
        "fit_jobs": memory,
    }


# -- (d) LOO ------------------------------------------------------------------------------


def loo_compare(workdir: Path) -> dict:
    """PSIS-LOO of the three RRR rungs and their comparison, in one process, timed after
    the imports (what the jobs add on top is their start-up)."""
    code = """
import json, time
import arviz, pandas as pd, yaml  # compare imports ArviZ lazily: not part of the timing
from replication_ladder import compare
from replication_ladder.config import Ladder
config = yaml.safe_load(open("config/config.yaml"))
ladder = Ladder(config)
data = pd.read_parquet("data/processed/rrr.parquet")
started = time.perf_counter()
scores, pointwise = {}, {}
for model in ladder.models("rrr"):
    scores[model], pointwise[model] = compare.score_model(
        f"results/rrr/{model}/posterior.nc", spec=ladder.model_spec("rrr", model),
        data=data, settings=config["loo"])
table = compare.compare_ladder(scores, pointwise)
print("RESULT" + json.dumps({"seconds": time.perf_counter() - started,
                             "table": table.reset_index().to_dict(orient="records")}))
"""
    _, _, output = run([PYTHON, "-c", code], workdir)
    return json.loads(output.split("RESULT", 1)[1])


def verdicts(results: dict) -> dict:
    fast, reference = results["samplers"][FAST], results["samplers"][REFERENCE]
    ratio = fast["ess_bulk_per_second"] / reference["ess_bulk_per_second"]
    peak = max(job["max_rss_mb"] for job in results["pipeline"]["fit_jobs"].values())
    checks = {
        "warm_pipeline_seconds": (results["pipeline"]["warm_seconds"], "<"),
        "random_slope_ess_per_second_ratio": (ratio, ">="),
        "loo_compare_seconds": (results["loo"]["seconds"], "<"),
        "noop_seconds": (results["pipeline"]["noop_seconds"], "<"),
        "reports_seconds": (results["pipeline"]["reports_seconds"], "<"),
        "fit_peak_memory_mb": (peak, "<"),
    }
    out = {}
    for key, (value, sense) in checks.items():
        met = value < TARGETS[key] if sense == "<" else value >= TARGETS[key]
        out[key] = {"value": value, "target": f"{sense} {TARGETS[key]}", "met": met}
    out["random_slope_divergences_not_more"] = {
        "value": fast["divergences"],
        "target": f"<= {reference['divergences']}",
        "met": fast["divergences"] <= reference["divergences"],
    }
    return out


def markdown(results: dict) -> str:
    lines = [
        "# Benchmark",
        "",
        f"{results['machine']}",
        "",
        "## Targets",
        "",
        "| target | value | goal | met |",
        "| --- | --- | --- | --- |",
    ]
    for key, check in results["targets"].items():
        lines.append(
            f"| {key} | {check['value']:.2f} | {check['target']} | "
            f"{'yes' if check['met'] else 'NO'} |"
        )
    lines += [
        "",
        "## (a) The RRR ladder by sampler (4 chains x 1000 draws, 1000 tuning)",
        "",
        "| fit | wall s | sampling s | compile s | divergences | min ESS bulk | "
        "ESS bulk/s (sampling) | ESS bulk/s (wall) | peak MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, fit in results["samplers"].items():
        if "skipped" in fit:
            lines.append(f"| {label} | {fit['skipped']} | | | | | | | |")
            continue
        lines.append(
            f"| {label} | {fit['wall_seconds']:.1f} | {fit['sampling_seconds']:.1f} | "
            f"{fit['compile_seconds']:.1f} | {fit['divergences']} | "
            f"{fit['min_ess_bulk']:.0f} | {fit['ess_bulk_per_second']:.0f} | "
            f"{fit['ess_bulk_per_wall_second']:.0f} | {fit['peak_memory_mb']} |"
        )
    p = results["pipeline"]
    lines += [
        "",
        "## (b), (c) The default pipeline, 2 cores",
        "",
        "| run | seconds |",
        "| --- | --- |",
        f"| cold (empty compile cache, no results) | {p['cold_seconds']:.0f} |",
        f"| warm (cache kept, results removed) | {p['warm_seconds']:.0f} |",
        f"| no-op rerun | {p['noop_seconds']:.1f} |",
        f"| all reports regenerated | {p['reports_seconds']:.1f} |",
        "",
        "## (d) PSIS-LOO and comparison of the RRR ladder",
        "",
        f"{results['loo']['seconds']:.2f} s in one process, after imports.",
        "",
        "## (e) Fit jobs of the warm run",
        "",
        "| fit | seconds | peak MB |",
        "| --- | --- | --- |",
    ]
    for fit, job in p["fit_jobs"].items():
        lines.append(f"| {fit} | {job['seconds']:.1f} | {job['max_rss_mb']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mirror",
        type=Path,
        default=Path(os.environ.get("LADDER_RRR_MIRROR", PROJECT.parent / "shared" / "data")),
    )
    parser.add_argument("--out", type=Path, default=PROJECT / "results" / "benchmarks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ladder-benchmark-") as scratch:
        workdir = clone_workflow(Path(scratch) / "clone")
        cache = Path(scratch) / "compile-cache"
        print("(b, c, e) the default pipeline, cold then warm", flush=True)
        results = {"pipeline": pipeline(workdir, args.mirror.resolve(), cache)}
        print("(a) the RRR ladder by sampler", flush=True)
        results["samplers"] = samplers(workdir, cache)
        print("(d) LOO and comparison", flush=True)
        results["loo"] = loo_compare(workdir)
    results["machine"] = (
        f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    results["targets"] = verdicts(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "benchmark.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
