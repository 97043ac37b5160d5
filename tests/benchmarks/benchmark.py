"""Benchmarks of the pipeline on this machine, measured side by side in one run
(`make benchmark`; `--only refit,ladder` picks parts, the others keep their last figures).

Writes results/benchmarks/benchmark.json and benchmark.md:
  refit     one RRR random-slope fit in a fresh process (imports, model build, nutpie
            compile, sampling) against a refit of the compiled rung with the rows of one
            site left out (the data swapped in: what LOSO, reloo, k-fold and SBC do):
            `refit_overhead_seconds` is the refit's wall time outside the sampler call
            (nutpie reports no time of its own: the call includes swapping the data in
            and converting the draws), against a fresh fit's imports, build and compile;
  ladder    the RRR ladder end to end (fixed, random intercept, random slope: fits, LOO,
            comparison, verdict) through the pipeline, warm, against Bambi's defaults in
            one Python process (PyMC's NUTS, target_accept 0.99 for the random slope as
            in the Bambi chapter, az.loo and az.compare): `ladder_speedup_vs_bambi`;
  sbc       the quick SBC (`make sbc` settings) of every rung of the RRR ladder;
  pipeline  the default pipeline from a fresh clone with an empty compile cache (cold),
            again with the cache kept and the results removed (warm), a no-op rerun, and
            each fit job's wall, sampling, compile and PSIS-LOO seconds and peak memory;
            a fit's fixed cost is its warm wall time outside sampling and PSIS-LOO
            (imports, build, compile, checks, writing): the LOO, computed in the fit job,
            grows with rows x draws as sampling does;
  scale     the multisite ladder (fixed, random slope; participant to 4x: SCALE_RUNGS)
            through the pipeline on synthetic studies of 1x, 4x and 16x the RRR's rows
            (17, 68 and 272 labs of about 100 participants rating 4 cartoons): each fit's
            wall, sampling and PSIS-LOO seconds and peak memory, the growth of its time
            against linear in rows, and results/benchmarks/scale.png (log-log);
  quick     the quick tier of the tests (`make test-quick`).
The pipeline part also gives the overhead: (wall seconds x cores) over the fits' summed
sampling seconds, warm and cold. Every Snakemake run samples with the shipped config's
sampler (nutpie), not the tests' own. The targets are stated beside each figure, with
docs/operations.md's reasons; nothing here fails a test. The
full CI's time (target: under 15 minutes) is CI's own figure, quoted in docs/.
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT / "tests"))
from conftest import clone_workflow, config_words  # noqa: E402  (the tests' helpers)

PYTHON = sys.executable
PARTS = ("refit", "ladder", "sbc", "pipeline", "scale", "quick")
CORES = 2
SCALES = {"1x": 17, "4x": 68, "16x": 272}  # labs of the multisite generator
# The sizes each rung is fitted at. Bambi cannot build the participant rung at 16x on
# 24 GB: formulae encodes the 27,114 participants as a dense one-hot of the rows first
# (21.9 GiB of int64) before it makes the group term's sparse design.
SCALE_RUNGS = {"fixed": tuple(SCALES), "random_slope": tuple(SCALES), "participant": ("1x", "4x")}
LADDER_RUNGS = ("fixed", "random_intercept", "random_slope")


def run(command: list[str], cwd: Path) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MB) and output of a child process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed:\n{output[-4000:]}")
    return seconds, usage.ru_maxrss // 1024, output


def python_result(code: str, cwd: Path) -> tuple[float, dict]:
    """Run `code` in a fresh interpreter; it prints RESULT and a JSON object."""
    seconds, _, output = run([PYTHON, "-c", code], cwd)
    return seconds, json.loads(output.split("RESULT", 1)[1])


# The shipped config's sampler: config_words would otherwise set the tests' own.
SAMPLER = yaml.safe_load((PROJECT / "config" / "config.yaml").read_text())["sampling"]["sampler"]


def snakemake(workdir: Path, *args: str, config: dict) -> tuple[float, str]:
    """The pipeline as `make run` runs it: the shipped sampler, 2 cores."""
    config = {"sampling": {"sampler": SAMPLER}, **config}
    command = [
        PYTHON,
        "-m",
        "snakemake",
        "--workflow-profile",
        "workflow/profiles/default",
        "--cores",
        str(CORES),
        *args,
        *config_words(config),
    ]
    seconds, _, output = run(command, workdir)
    return seconds, output


def only_rrr_ladder(workdir: Path) -> None:
    """The clone's config: the RRR and its three original rungs, nothing else."""
    path = workdir / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    rrr = config["datasets"]["rrr"]
    rrr["models"] = {name: rrr["models"][name] for name in LADDER_RUNGS}
    config["datasets"] = {"rrr": rrr}
    config["sbc"]["datasets"] = ["rrr"]
    path.write_text(yaml.safe_dump(config, sort_keys=False))


# -- refit ---------------------------------------------------------------------------------

REFIT = """
import time
started = time.perf_counter()
import json
import numpy as np, pandas as pd, yaml
from replication_ladder.jobs.runtime import configure_environment
configure_environment(2, {cache!r})
from replication_ladder.config import Ladder
from replication_ladder.models.kinds import build_rung
from replication_ladder.models.samplers import compile_rung
import bambi, nutpie, pymc  # what a fit job imports, inside the timed imports
imported = time.perf_counter()
spec = Ladder(yaml.safe_load(open("config/config.yaml"))).model_spec("rrr", "random_slope")
data = pd.read_parquet("data/processed/rrr.parquet")
rung = build_rung(spec, data)
compiled = compile_rung(rung, spec["sampling"])
fresh = compiled.sample(spec["seed"], 2)
fitted = time.perf_counter()
train = np.flatnonzero(rung.data["study"].astype(str).to_numpy() != str(rung.data["study"].iloc[0]))
before = time.perf_counter()
refit = compiled.sample(spec["seed"] + 1, 2, data=rung.rows(train))
after = time.perf_counter()
print("RESULT" + json.dumps({{
    "imports_seconds": imported - started,
    "compile_seconds": compiled.compile_seconds,
    "fresh_wall_seconds": fitted - started,
    "fresh_sampling_seconds": float(fresh["posterior"].attrs["sampling_time"]),
    "refit_wall_seconds": after - before,
    "refit_sampling_seconds": float(refit["posterior"].attrs["sampling_time"]),
}}))
"""


def refit(workdir: Path, mirror: Path, cache: Path) -> dict:
    python_result(REFIT.format(cache=str(cache)), workdir)  # fills the compile cache
    _, result = python_result(REFIT.format(cache=str(cache)), workdir)
    result["fresh_overhead_seconds"] = (
        result["fresh_wall_seconds"] - result["fresh_sampling_seconds"]
    )
    result["refit_overhead_seconds"] = (
        result["refit_wall_seconds"] - result["refit_sampling_seconds"]
    )
    return result


# -- ladder ----------------------------------------------------------------------------------

BAMBI = """
import time
started = time.perf_counter()
import json
import arviz as az, bambi as bmb, pandas as pd, yaml
data = pd.read_parquet("data/processed/rrr.parquet")
models = yaml.safe_load(open("config/config.yaml"))["datasets"]["rrr"]["models"]
fits, sampling = {{}}, {{}}
for name in {rungs!r}:
    model = bmb.Model(models[name]["formula"], data)
    began = time.perf_counter()
    fits[name] = model.fit(
        draws=1000, tune=1000, chains=4, cores=2, random_seed=20161026,
        # Bambi's defaults: inference_method "pymc" is PyMC's own NUTS.
        inference_method="pymc", **({{"target_accept": 0.99}} if name == "random_slope" else {{}}),
        idata_kwargs={{"log_likelihood": True}}, progressbar=False,
    )
    sampling[name] = time.perf_counter() - began
table = az.compare({{name: az.loo(fit) for name, fit in fits.items()}})
print("RESULT" + json.dumps({{"sampling_seconds": sampling, "best": str(table.index[0])}}))
"""


def job_seconds(workdir: Path) -> dict:
    """Each job's time inside its script (imports to the last write), from the line that
    ends its log; the rest of a pipeline's wall time is Snakemake's own and start-ups."""
    jobs = {}
    for log in sorted((workdir / "logs").rglob("*.log")):
        found = re.findall(
            r"replication_ladder: (\S+\(.*\)) finished in ([0-9.]+) s$",
            log.read_text(),
            flags=re.MULTILINE,
        )
        if found:
            jobs[found[-1][0]] = float(found[-1][1])
    return jobs


def ladder(workdir: Path, mirror: Path, cache: Path) -> dict:
    """Both warm: the pipeline after a first run filled its compile cache, Bambi after a
    first fit of each rung filled PyTensor's (the timed process pays imports and
    compiles, as a user's script does)."""
    config = {"mirror": mirror, "compile_cache": cache}
    target = "results/rrr/replication.json"
    snakemake(workdir, target, config=config)
    for name in ("results", "logs"):  # the data stage stays done
        shutil.rmtree(workdir / name, ignore_errors=True)
    pipeline_seconds, _ = snakemake(workdir, target, config=config)
    jobs = job_seconds(workdir)
    code = BAMBI.format(rungs=LADDER_RUNGS)
    python_result(code, workdir)  # fills PyTensor's cache: Bambi is timed warm, as the pipeline
    bambi_seconds, result = python_result(code, workdir)
    return {
        "pipeline_seconds": pipeline_seconds,
        "pipeline_job_seconds": jobs,
        "pipeline_job_seconds_sum": sum(jobs.values()),
        "bambi_seconds": bambi_seconds,
        "bambi_sampling_seconds": result["sampling_seconds"],
        "bambi_best": result["best"],
        "ladder_speedup_vs_bambi": bambi_seconds / pipeline_seconds,
    }


# -- sbc and the pipeline ------------------------------------------------------------------


def sbc(workdir: Path, mirror: Path, cache: Path) -> dict:
    seconds, _ = snakemake(workdir, "sbc_all", config={"mirror": mirror, "compile_cache": cache})
    ranks = sorted(workdir.glob("results/sbc/rrr/*/ranks.parquet"))
    return {"seconds": seconds, "rungs": [path.parent.name for path in ranks]}


def fit_jobs(workdir: Path) -> dict:
    """Each fit job's wall seconds and peak memory (Snakemake's benchmark file) with the
    sampling, compile and PSIS-LOO seconds it recorded."""
    jobs = {}
    for benchmark in sorted((workdir / "results").glob("*/*/benchmark.tsv")):
        lines = benchmark.read_text().splitlines()
        row = dict(zip(lines[0].split("\t"), lines[1].split("\t"), strict=True))
        diagnostics = json.loads((benchmark.parent / "diagnostics.json").read_text())
        seconds = float(row["s"])
        jobs[f"{benchmark.parent.parent.name}/{benchmark.parent.name}"] = {
            "seconds": seconds,
            "sampling_seconds": diagnostics["sampling_seconds"],
            "compile_seconds": diagnostics["compile_seconds"],
            "psis_loo_seconds": diagnostics["psis_loo_seconds"],
            "fixed_seconds": seconds
            - diagnostics["sampling_seconds"]
            - diagnostics["psis_loo_seconds"],
            "max_rss_mb": float(row["max_rss"]),
        }
    return jobs


def pipeline(workdir: Path, mirror: Path, cache: Path) -> dict:
    """Cold: a fresh clone and an empty compile cache, as `make run` on a new machine
    (setup excepted). Warm: the same with the cache kept and the results removed."""
    config = {"mirror": mirror, "compile_cache": cache}
    cold, _ = snakemake(workdir, config=config)
    cold_jobs = fit_jobs(workdir)
    for name in ("results", "reports", "logs"):
        shutil.rmtree(workdir / name, ignore_errors=True)
    warm, _ = snakemake(workdir, config=config)
    noop, output = snakemake(workdir, config=config)
    assert "Nothing to be done" in output, output[-2000:]
    jobs = fit_jobs(workdir)
    fixed = sorted(job["fixed_seconds"] for job in jobs.values())
    cold_sampling = sum(job["sampling_seconds"] for job in cold_jobs.values())
    warm_sampling = sum(job["sampling_seconds"] for job in jobs.values())
    return {
        "cold_seconds": cold,
        "warm_seconds": warm,
        "cold_overhead": cold * CORES / cold_sampling,
        "warm_overhead": warm * CORES / warm_sampling,
        "noop_seconds": noop,
        "cold_fit_seconds_sum": sum(job["seconds"] for job in cold_jobs.values()),
        "warm_fit_seconds_sum": sum(job["seconds"] for job in jobs.values()),
        "warm_sampling_seconds_sum": warm_sampling,
        "warm_fit_fixed_seconds_median": fixed[len(fixed) // 2],
        "warm_fit_fixed_seconds_max": fixed[-1],
        "fit_jobs": jobs,
    }


def scale_config(path: Path) -> None:
    """A config of its own: the multisite dataset at each size, its ladder's rungs."""
    shipped = yaml.safe_load((PROJECT / "config" / "config.yaml").read_text())
    datasets = {}
    for size, labs in SCALES.items():
        dataset = json.loads(json.dumps(shipped["datasets"]["multisite"]))
        dataset["source"]["params"]["sites"] = labs
        dataset["description"] = f"multisite at {size} the RRR's rows ({labs} labs)"
        dataset["models"] = {
            rung: dataset["models"][rung] for rung, sizes in SCALE_RUNGS.items() if size in sizes
        }
        dataset["replication"] = None
        datasets[f"scale_{size}"] = dataset
    path.write_text(yaml.safe_dump({"default_datasets": False, "datasets": datasets}))


def growth(jobs: dict) -> dict:
    """Per rung: its time at its largest size over its time at 1x, rows for rows (1 is
    linear), and its fits' peak memory."""
    rows = {size: jobs[f"scale_{size}/fixed"]["rows"] for size in SCALES}
    result = {}
    for rung, sizes in SCALE_RUNGS.items():
        seconds = {size: jobs[f"scale_{size}/{rung}"]["seconds"] for size in sizes}
        largest = sizes[-1]
        result[rung] = {
            "rows": {size: rows[size] for size in sizes},
            "seconds": seconds,
            "max_rss_mb": {size: jobs[f"scale_{size}/{rung}"]["max_rss_mb"] for size in sizes},
            "time_over_linear": seconds[largest] / seconds["1x"] / (rows[largest] / rows["1x"]),
        }
    return result


def scale_figure(curves: dict, path: Path) -> None:
    """Time and peak memory against rows, log-log, a line per rung."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for rung, curve in curves.items():
        rows = list(curve["rows"].values())
        seconds = list(curve["seconds"].values())
        time_axis.loglog(rows, seconds, "o-", label=rung)
        linear = [seconds[0] * n / rows[0] for n in rows]  # through its 1x
        time_axis.loglog(rows, linear, ":", color="grey", linewidth=0.8)
        memory_axis.loglog(rows, list(curve["max_rss_mb"].values()), "o-", label=rung)
    memory_axis.axhline(2000, color="grey", linestyle="--", linewidth=0.8)
    time_axis.set(xlabel="rows", ylabel="fit job, wall seconds", title="time (dotted: linear)")
    memory_axis.set(xlabel="rows", ylabel="peak RSS, MB", title="memory (dashed: 2 GB)")
    time_axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def scale(workdir: Path, mirror: Path, cache: Path, out: Path) -> dict:
    """The scale curve, each size's ladder through the pipeline, warm (a first run of the
    smallest fills the compile cache)."""
    config_file = workdir / "config" / "scale.yaml"
    scale_config(config_file)
    config = {"mirror": mirror, "compile_cache": cache}
    targets = [
        f"results/scale_{size}/{rung}/summary.parquet"
        for rung, sizes in SCALE_RUNGS.items()
        for size in sizes
    ]
    first = [target for target in targets if "/scale_1x/" in target]
    snakemake(workdir, *first, "--configfile", str(config_file), config=config)
    shutil.rmtree(workdir / "results" / "scale_1x")
    seconds, _ = snakemake(workdir, *targets, "--configfile", str(config_file), config=config)
    jobs = {name: job for name, job in fit_jobs(workdir).items() if name.startswith("scale_")}
    for name, job in jobs.items():
        record = json.loads((workdir / "results" / name / "diagnostics.json").read_text())
        job["rows"] = record["rows"]
    curves = growth(jobs)
    out.mkdir(parents=True, exist_ok=True)
    scale_figure(curves, out / "scale.png")
    return {"seconds": seconds, "fit_jobs": jobs, "curves": curves}


def quick(workdir: Path, mirror: Path, cache: Path) -> dict:
    """The quick tier as `make test-quick` runs it, in this checkout."""
    command = ["make", "-s", "test-quick"]
    seconds, _, output = run(command, PROJECT)
    passed = re.findall(r"(\d+) passed", output)
    return {"seconds": seconds, "passed": int(passed[-1]) if passed else 0}


# -- targets and the table -------------------------------------------------------------------


def targets(results: dict) -> dict:
    """The targets (docs/operations.md), each beside its figure."""
    checks = {}
    if "refit" in results:
        value = results["refit"]["refit_overhead_seconds"]
        checks["refit_overhead_seconds"] = (value, "< 1", value < 1)
    if "ladder" in results:
        value = results["ladder"]["ladder_speedup_vs_bambi"]
        checks["ladder_speedup_vs_bambi"] = (value, ">= 2 (next: 3)", value >= 2)
    if "sbc" in results:
        value = results["sbc"]["seconds"]
        checks["quick_sbc_rrr_seconds"] = (value, "< 600", value < 600)
    if "pipeline" in results:
        value = results["pipeline"]["cold_seconds"]
        checks["cold_pipeline_seconds"] = (value, "< 600", value < 600)
        value = results["pipeline"]["warm_fit_fixed_seconds_median"]
        checks["warm_fit_fixed_seconds_median"] = (value, "< 5", value < 5)
        for run, goal in (("warm", 1.3), ("cold", 1.6)):
            value = results["pipeline"].get(f"{run}_overhead")
            if value is not None:
                checks[f"{run}_overhead"] = (value, f"<= {goal}", value <= goal)
    if "scale" in results:
        for rung, curve in results["scale"]["curves"].items():
            value = curve["time_over_linear"]
            checks[f"scale_{rung}_time_over_linear"] = (value, "<= 1.3", value <= 1.3)
            value = max(curve["max_rss_mb"].values())
            checks[f"scale_{rung}_peak_rss_mb"] = (value, "< 2000", value < 2000)
    if "quick" in results:
        value = results["quick"]["seconds"]
        checks["quick_tier_seconds"] = (value, "< 180", value < 180)
    return {
        key: {"value": value, "target": goal, "met": met}
        for key, (value, goal, met) in checks.items()
    }


def markdown(results: dict) -> str:
    lines = [
        "# Benchmark",
        "",
        results["machine"],
        "",
        "| measure | value | target | met |",
        "| --- | --- | --- | --- |",
    ]
    for key, check in results["targets"].items():
        met = "yes" if check["met"] else "NO"
        lines.append(f"| {key} | {check['value']:.2f} | {check['target']} | {met} |")
    for part in PARTS:
        if part in results:
            lines += ["", f"## {part}", "", "```json", json.dumps(results[part], indent=2), "```"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=(
            "parts (see the module's docstring for what each measures): "
            f"{', '.join(PARTS)}\n\n"
            "example:\n"
            "  make benchmark MIRROR=../shared/data\n"
            "  .venv/bin/python tests/benchmarks/benchmark.py --only refit,ladder"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--mirror",
        type=Path,
        default=Path(os.environ.get("LADDER_RRR_MIRROR", PROJECT.parent / "shared" / "data")),
        help="a directory holding the RRR file (default: $LADDER_RRR_MIRROR, else ../shared/data)",
    )
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help="comma-separated parts to measure; the others keep their last figures (default: all)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=PROJECT / "results" / "benchmarks",
        help="where benchmark.json and benchmark.md go (default: results/benchmarks)",
    )
    args = parser.parse_args()
    parts = [part for part in args.only.split(",") if part]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    previous = args.out / "benchmark.json"
    results = json.loads(previous.read_text()) if previous.exists() else {}
    mirror = args.mirror.resolve()
    with tempfile.TemporaryDirectory(prefix="ladder-benchmark-") as scratch:
        cache = Path(scratch) / "compile-cache"
        clone = clone_workflow(Path(scratch) / "clone")
        if "pipeline" in parts:
            print("pipeline: the default pipeline, cold then warm", flush=True)
            results["pipeline"] = pipeline(clone, mirror, cache)
        only_rrr_ladder(clone)
        snakemake(clone, "data/processed/rrr.parquet", config={"mirror": mirror})
        if "scale" in parts:
            print("scale: the multisite ladder at 1x, 4x and 16x", flush=True)
            results["scale"] = scale(clone, mirror, cache, args.out)
        measures = {"refit": refit, "ladder": ladder, "sbc": sbc, "quick": quick}
        for part, measure in measures.items():
            if part in parts:
                print(f"{part} ...", flush=True)
                results[part] = measure(clone, mirror, cache)
                print(f"  {json.dumps(results[part])[:300]}", flush=True)
    results["machine"] = (
        f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}"
    )
    results["targets"] = targets(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "benchmark.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
