# Shared helpers: the validated config (checked before any job runs), the code each job
# runs, cluster resources, and target lists. Artefact names come from
# replication_ladder.base.paths; nothing here spells a file name.
import os
from pathlib import Path
from types import SimpleNamespace

from replication_ladder.scoring import remedies
from replication_ladder.base import paths
from replication_ladder.jobs import resources as sizes
from replication_ladder.config import Ladder
from replication_ladder.jobs.dependencies import module_closure, notebook_closure
from replication_ladder.jobs.run_summary import run_summary
from replication_ladder.jobs.runtime import entry_module

LADDER = Ladder(config)


def one_of(names):
    """A wildcard regex matching exactly these names (none when the list is empty)."""
    return "|".join(names) if names else "(?!)"


def code(rule, notebook=None):
    """The package modules a rule's job runs, as inputs: its entry module and the job
    runtime with every module they import (and those a report's notebook imports),
    found by reading the source. Editing one reruns exactly the jobs that run it."""
    files = {
        *module_closure(entry_module(rule)),
        *module_closure("replication_ladder.jobs.runtime"),
    }
    if notebook is not None:
        files |= {*notebook_closure(notebook), os.path.abspath(notebook)}
    return sorted(os.path.relpath(path) for path in files)


# This checkout's workflow directory: where Snakemake runs is not its parent when the
# workflow runs as another workflow's module.
WORKFLOW_DIR = Path(paths.__file__).resolve().parents[2]


def notebook(name):
    """A report notebook's template, relative to where Snakemake runs."""
    return os.path.relpath(WORKFLOW_DIR / "notebooks" / f"{name}.ipynb")


def kind_code(wildcards):
    """The modules a rung's kind names beyond the fit's own (a hand-written rung's
    builder, imported by name from the config)."""
    entry = LADDER.rung(wildcards.dataset, wildcards.model)
    modules = LADDER.kind(wildcards.dataset, wildcards.model).code_modules(entry)
    return sorted(
        {os.path.relpath(path) for module in modules for path in module_closure(module)}
    )


def ladder_kind_code(wildcards):
    """The modules the kinds of a dataset's rungs name beyond the fits' own."""
    return sorted(
        {
            path
            for model in LADDER.models(wildcards.dataset)
            for path in kind_code(
                SimpleNamespace(dataset=wildcards.dataset, model=model)
            )
        }
    )


def site_table(wildcards):
    """A dataset's per-site estimates, as a list: empty for a dataset without them (a
    summary-level dataset's processed table is its per-site estimates)."""
    return [path for path in [sites_path(wildcards.dataset)] if path]


def sites_path(dataset):
    if dataset in LADDER.summary_datasets:
        return paths.at(paths.PROCESSED, dataset=dataset)
    if dataset in LADDER.two_stage_datasets:
        return paths.at(paths.SITES, dataset=dataset)
    return None


def attempt(wildcards, attempt):
    """The attempt, as a resource: a retried job appends to its log and fails at once
    when the previous attempt failed in a way a retry cannot fix."""
    return attempt


def rung_sampling(wildcards):
    return LADDER.sampling(wildcards.dataset, wildcards.model)


def sized(estimate, refits=lambda wildcards, input: 0, sampling=rung_sampling):
    """A resource of a (dataset, model) job from its data's size (rows, group levels),
    draws and refits, grown by attempt: estimate is one of replication_ladder.jobs.resources'
    fit_mem_mb, fit_runtime, loo_mem_mb, sampling_threads."""

    def resource(wildcards, input, attempt):
        factors = LADDER.group_factors(wildcards.dataset, wildcards.model)
        size = sizes.data_size(input.data, factors)
        return estimate(size, sampling(wildcards), attempt, refits(wildcards, input))

    return resource


def fit_priority(wildcards, input, attempt):
    """Longest first (resources.longest_first); between equal estimates (a random
    intercept and a random slope over the same labs), the higher rung: a ladder climbs.
    """
    place = LADDER.models(wildcards.dataset).index(wildcards.model)
    return sized(sizes.longest_first)(wildcards, input, attempt) + place / 1000


def sbc_sampling(wildcards):
    return LADDER.sbc_sampling(wildcards.dataset, wildcards.model)


def sbc_refits(wildcards, input):
    """A batch fits its first replicate, then refits the compiled rung for each other one."""
    return LADDER.sbc()["batch_size"] - 1


def loo_refits(wildcards, input):
    """The most refits a rung's LOO remedy may run: none once its fit's PSIS leaves no
    Pareto k above the threshold (Snakemake sizes a job again when its input exists)."""
    if Path(input.psis).exists():
        if not remedies.needs_remedy(
            input.psis, LADDER.loo_settings(wildcards.dataset)
        ):
            return 0
    return LADDER.refits_in_loo(wildcards.dataset, wildcards.model)


def site_refits(wildcards, input):
    """Leave-one-site-out refits the rung once per site."""
    return sizes.sites_in(input.record)


def loo_threads(wildcards, input, attempt):
    """A LOO job whose remedy may refit samples like a fit; one that cannot, one thread."""
    if loo_refits(wildcards, input):
        return sized(sizes.sampling_threads, loo_refits)(wildcards, input, attempt)
    return 1


def fit_data(wildcards):
    """The table a rung is fitted to: the rows, or the per-site estimates."""
    level = LADDER.rung_level(wildcards.dataset, wildcards.model)
    return paths.at(paths.SITES if level == "sites" else paths.PROCESSED, **wildcards)


def raw_file(dataset):
    return paths.at(paths.RAW, dataset=dataset, extension=LADDER.raw_extension(dataset))


def meta_analysis_priors(wildcards):
    """The priors.json of the dataset's meta-analysis rung: the priors its fit stated."""
    model = LADDER.meta_analysis_rung(wildcards.dataset)
    return paths.at(paths.FIT["priors_json"], dataset=wildcards.dataset, model=model)


def stated_meta_analysis_priors(wildcards):
    """{"priors": the meta-analysis rung's priors.json} where the dataset has one."""
    if LADDER.meta_analysis_rung(wildcards.dataset) is None:
        return {}
    return {"priors": meta_analysis_priors(wildcards)}


def fit_files(dataset, name, models=None):
    """One artefact (a key of paths.FIT, paths.LOO...) of every rung of a dataset."""
    template = {**paths.FIT, **paths.LOO, "predictions": paths.PREDICTIONS}[name]
    return [
        paths.at(template, dataset=dataset, model=m)
        for m in models or LADDER.models(dataset)
    ]


def report_inputs(dataset):
    """Every file a dataset's report reads, by name: the report opens these and nothing
    else (the notebook gets them as a parameter)."""
    spec = LADDER.dataset(dataset)
    rows = LADDER.row_models(dataset)
    compared = set(LADDER.comparison_spec(dataset)["compared"])
    fits = {}
    for model in LADDER.models(dataset):
        names = dict.fromkeys(
            ("posterior", "summary", "diagnostics", "priors_txt", "ppc", "psense")
        )
        files = {
            name: paths.at(paths.FIT[name], dataset=dataset, model=model)
            for name in names
        }
        if model in compared:
            files["loo_pointwise"] = paths.at(
                paths.LOO["pointwise"], dataset=dataset, model=model
            )
        if spec["predict"] and model in rows:
            files["predictions"] = paths.at(
                paths.PREDICTIONS, dataset=dataset, model=model
            )
        fits[model] = files
    names = {"dataset": dataset}
    return {
        "data": paths.at(paths.PROCESSED, **names),
        "record": paths.at(paths.RECORD, **names),
        "sites": sites_path(dataset),
        "model_averaging": (
            paths.at(paths.MODEL_AVERAGING, **names)
            if dataset in LADDER.averaged_datasets
            else None
        ),
        "design_analysis": (
            paths.at(paths.DESIGN_ANALYSIS, **names)
            if dataset in LADDER.designed_datasets
            else None
        ),
        "comparison": paths.at(paths.COMPARISON, **names),
        "prior_predictive": paths.at(paths.PRIOR_PREDICTIVE, **names),
        "recovery": (
            paths.at(paths.RECOVERY, **names)
            if dataset in LADDER.synthetic_datasets
            else None
        ),
        "replication": (
            paths.at(paths.REPLICATION, **names) if spec["replication"] else None
        ),
        "loso": (
            paths.at(paths.LOSO["table"], **names) if LADDER.loso(dataset) else None
        ),
        "loso_sites": (
            paths.at(paths.LOSO["sites"], **names) if LADDER.loso(dataset) else None
        ),
        "fits": fits,
    }


def index_inputs():
    """Each reported dataset's verdict or recovery file (None when it has neither)."""
    return {
        dataset: {
            "replication": (
                paths.at(paths.REPLICATION, dataset=dataset)
                if LADDER.dataset(dataset)["replication"]
                else None
            ),
            "recovery": (
                paths.at(paths.RECOVERY, dataset=dataset)
                if dataset in LADDER.synthetic_datasets
                else None
            ),
        }
        for dataset in LADDER.datasets
    }


def all_targets():
    targets = [paths.DIAGNOSTICS_TABLE]
    if LADDER.synthetic_datasets:
        targets.append(paths.RECOVERY_TABLE)
    targets += [paths.at(paths.REPORT["html"], dataset=d) for d in LADDER.datasets]
    return [*targets, paths.REPORT_INDEX]


def sbc_targets():
    return [
        *(paths.at(paths.SBC_RANKS, dataset=d, model=m) for d, m in LADDER.sbc_fits()),
        paths.SBC_REPORT["html"],
    ]


def new_rows_source(dataset):
    """The file new rows come from: the held-out rows, the user's file, or none (grid)."""
    predict = LADDER.dataset(dataset)["predict"]
    if "holdout" in predict:
        return [paths.at(paths.HOLDOUT, dataset=dataset)]
    return [predict["file"]] if "file" in predict else []


def sbc_report_inputs():
    """Every rung's ranks and uniformity test, by dataset and rung."""
    return {
        f"{dataset}/{model}": {
            "ranks": paths.at(paths.SBC_RANKS, dataset=dataset, model=model),
            "uniformity": paths.at(paths.SBC_SUMMARY, dataset=dataset, model=model),
        }
        for dataset, model in LADDER.sbc_fits()
    }
