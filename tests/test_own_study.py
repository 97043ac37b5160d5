"""Your own study, by config alone: a minimal config file that replaces every dataset reads
each file type studies publish to the same table (written here: semicolons with decimal
commas, Excel, SPSS with value labels, Stata, Parquet) and runs end to end, with a
string-coded treatment and sites named with spaces and non-ASCII letters; the scaffold
writes a config that runs as it is; a minimal block gives a cluster job the same params
as its explicit form."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from replication_ladder.config import Ladder
from replication_ladder.models.kinds import build_rung

from conftest import SMOKE, config_words, copy_workflow, new_dataset, run_command, snakemake

pytestmark = pytest.mark.workflow

SITES = ["Zürich Lab", "São Paulo", "Köln", "Łódź 2"]


def study(rows: int = 160) -> pd.DataFrame:
    """Four labs, participants rating two items each, a pen held two ways."""
    rng = np.random.default_rng(7)
    people = rows // 2
    lab = rng.integers(0, 4, people)
    pen = rng.integers(0, 2, people)
    person = rng.normal(0, 0.8, people)
    frame = pd.DataFrame(
        {
            "Subject ID": np.repeat(np.arange(1, people + 1), 2),
            "Lab": np.repeat([SITES[i] for i in lab], 2),
            "Pen": np.repeat(np.where(pen == 1, "teeth", "lips"), 2),
            "Item": np.tile(["A", "B"], people),
        }
    )
    frame["Rating"] = np.round(
        4 + 0.3 * np.repeat(pen, 2) + np.repeat(person, 2) + rng.normal(0, 1, rows), 2
    )
    return frame


def write_files(folder: Path) -> dict[str, Path]:
    import pyreadstat

    folder.mkdir(parents=True, exist_ok=True)
    data = study()
    files = {
        "csv": folder / "study.csv",
        "xlsx": folder / "study.xlsx",
        "sav": folder / "study.sav",
    }
    data.to_csv(files["csv"], sep=";", decimal=",", index=False)
    data.to_excel(files["xlsx"], sheet_name="ratings", index=False)
    coded = data.rename(columns={"Subject ID": "subject"}).assign(
        Lab=data["Lab"].map({site: i for i, site in enumerate(SITES, 1)}).astype(float),
        Pen=data["Pen"].map({"lips": 1.0, "teeth": 2.0}),
    )
    pyreadstat.write_sav(
        coded,
        files["sav"],
        variable_value_labels={
            "Lab": {float(i): site for i, site in enumerate(SITES, 1)},
            "Pen": {1.0: "lips", 2.0: "teeth"},
        },
    )
    files["dta"] = folder / "study.dta"
    pyreadstat.write_dta(data.rename(columns={"Subject ID": "subject"}), files["dta"])
    files["parquet"] = folder / "study.parquet"
    data.to_parquet(files["parquet"])
    return files


def minimal_block(path: Path, **read) -> dict:
    """The dataset block a researcher writes: about fifteen lines of YAML."""
    subject = "subject" if path.suffix in (".sav", ".dta") else "Subject ID"
    block = {
        "source": {"path": str(path), **({"read": read} if read else {})},
        "rename": {subject: "participant", "Lab": "lab", "Pen": "pen", "Rating": "rating"},
        "columns": {
            "participant": "category",
            "lab": "category",
            "pen": "category",
            "rating": "number",
        },
        "outcome": {"range": [0, 9]},  # the rating's scale: the priors follow from it
        "site": "lab",
        "models": {"random_intercept": {"formula": "rating ~ pen + (1|lab)"}},
    }
    return block


def own_config(files: dict[str, Path]) -> dict:
    csv = minimal_block(files["csv"], sep=";", decimal=",")
    csv["participant"] = "participant"
    csv["replication"] = {
        "treatment": "pen",
        "contrast": ["lips", "teeth"],
        "original": {"citation": "a pen study", "effect": 0.8, "se": 0.3, "n1": 30, "n2": 30},
    }
    csv["models"]["participant"] = {"formula": "rating ~ pen + (pen|lab) + (1|participant)"}
    return {
        "default_datasets": False,
        "preset": "smoke",
        "datasets": {
            "semicolons": csv,
            "excel": minimal_block(files["xlsx"], sheet="ratings"),
            "spss": minimal_block(files["sav"]),
            "stata": minimal_block(files["dta"]),
            "arrow": minimal_block(files["parquet"]),
        },
    }


def run_pipeline(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """The README's command (`make run CONFIG=...`), fits one thread each."""
    command = run_command(*args, "--set-threads", "fit=1", "loo=1")
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=1500)


def test_a_minimal_config_replacing_every_dataset_runs_from_each_file_type(tmp_path):
    """The whole run is planned for the five files; the data stage reads each of them to
    the same table, and the semicolon file (the only one with a replication block) runs to
    its report. The stages after the data stage see only the processed table, so running
    them on four more copies of it would test nothing more."""
    workdir = copy_workflow(tmp_path / "run")
    files = write_files(tmp_path / "files")
    config = tmp_path / "mine.yaml"
    config.write_text(yaml.safe_dump(own_config(files), allow_unicode=True, sort_keys=False))
    names = ("semicolons", "excel", "spss", "stata", "arrow")
    plan = snakemake(workdir, "--dry-run", "--configfile", str(config)).stdout
    for name in names:
        assert f"reports/{name}.html" in plan, name
    assert "reports/index.html" in plan
    assert "dataset=rrr" not in plan and "reports/rrr.html" not in plan  # not run
    targets = ["reports/semicolons.html", *(f"data/processed/{name}.parquet" for name in names)]
    result = run_pipeline(workdir, *targets, "--configfile", str(config))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    tables = {}
    for name in names:
        table = pd.read_parquet(workdir / f"data/processed/{name}.parquet")
        tables[name] = table
        assert len(table) == 160 and set(table["lab"].astype(str)) == set(SITES), name
        # The replication's treatment is coded by its contrast; elsewhere pen stays text.
        pens = (study()["Pen"] == "teeth").astype(int) if name == "semicolons" else study()["Pen"]
        assert table["pen"].astype(pens.dtype).tolist() == pens.tolist(), name
        np.testing.assert_allclose(table["rating"], study()["Rating"])
        raw = next((workdir / "data/raw").glob(f"{name}.*"))
        assert (
            raw.suffix
            == {
                "semicolons": ".csv",
                "excel": ".xlsx",
                "spss": ".sav",
                "stata": ".dta",
                "arrow": ".parquet",
            }[name]
        )
    # The same data and block, read from four formats, gave the same table.
    for name in ("excel", "spss", "stata"):
        pd.testing.assert_frame_equal(tables[name], tables["arrow"], check_categorical=False)
    verdict = json.loads((workdir / "results/semicolons/replication.json").read_text())
    assert "pen (teeth minus lips)" in verdict["verdict"]
    assert verdict["original"]["citation"] == "a pen study"
    page = (workdir / "reports/semicolons.html").read_text()
    assert "a pen study" in page and "Strack" not in page
    print(f"config ({len(config.read_text().splitlines())} lines):\n{config.read_text()}")


def test_a_config_that_adds_a_dataset_keeps_the_shipped_ones(tmp_path):
    """Planned beside the shipped datasets, and fitted: the stages after the fit read only
    its artefacts, and the test above runs a dataset of one's own to its report."""
    workdir = copy_workflow(tmp_path / "run")
    files = write_files(tmp_path / "files")
    config = tmp_path / "more.yaml"
    config.write_text(
        yaml.safe_dump({"preset": "smoke", "datasets": {"mine": minimal_block(files["parquet"])}})
    )
    plan = snakemake(workdir, "--dry-run", "--configfile", str(config))
    for report in ("reports/mine.html", "reports/rrr.html", "reports/linear.html"):
        assert report in plan.stdout
    target = "results/mine/random_intercept/diagnostics.json"
    result = run_pipeline(workdir, target, "--configfile", str(config))
    assert result.returncode == 0, result.stderr[-3000:]
    diagnostics = json.loads((workdir / target).read_text())
    # The file's preset reaches the added dataset's fit, as it reaches the shipped ones.
    assert (diagnostics["draws"], diagnostics["chains"]) == (SMOKE["draws"], SMOKE["chains"])


def test_the_scaffold_writes_a_config_that_runs(tmp_path):
    workdir = copy_workflow(tmp_path / "run")
    files = write_files(tmp_path / "files")
    out = tmp_path / "scaffolded.yaml"
    made = new_dataset(
        str(files["sav"]),
        "pens",
        "--outcome",
        "Rating",
        "--treatment",
        "Pen",
        "--original-effect",
        "0.8",
        "--out",
        str(out),
    )
    assert made.returncode == 0, made.stderr
    written = yaml.safe_load(out.read_text())
    block = written["datasets"]["pens"]
    assert block["site"] == "lab" and block["participant"] == "subject"
    assert block["columns"]["pen"] == "category" and block["replication"]["contrast"] == [
        "lips",
        "teeth",
    ]
    assert set(block["models"]) == {"fixed", "random_intercept", "random_slope", "participant"}
    text = out.read_text().replace(
        "default_datasets: false", "default_datasets: false\npreset: smoke"
    )
    out.write_text(text)
    # The whole ladder is planned; the richest rung runs, and every rung builds on the
    # table the run wrote (the three others are its sub-models: sampling them as well
    # would test the same plumbing three more times).
    plan = snakemake(workdir, "results/pens/loo.parquet", "--dry-run", "--configfile", str(out))
    assert plan.stdout.count("rule fit:") == 4 and "rule compare:" in plan.stdout
    result = run_pipeline(
        workdir, "results/pens/participant/summary.parquet", "--configfile", str(out)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ladder = Ladder(written)  # as written: without the preset, which the shipped file defines
    table = pd.read_parquet(workdir / "data/processed/pens.parquet")
    for model in block["models"]:
        rung = build_rung(ladder.model_spec("pens", model), table)
        assert rung.n_rows == len(table), model


def test_a_cluster_job_gets_the_params_of_the_explicit_form(tmp_path):
    """The job is run the way a cluster job runs (Snakemake's remote mode: the workflow
    parsed again in the job's own process, params computed there) from a minimal block;
    its fit records the hash of its params, which must equal the explicit form's."""
    from test_config import EXPLICIT, MINIMAL

    workdir = copy_workflow(tmp_path / "run")
    data = tmp_path / "mine.csv"
    rng = np.random.default_rng(0)
    pd.DataFrame(
        {"y": rng.normal(size=60), "x": rng.normal(size=60), "lab": np.repeat(list("abc"), 20)}
    ).to_csv(data, index=False)
    hashes = {}
    for form, block in (("minimal", MINIMAL), ("explicit", EXPLICIT)):
        block = json.loads(json.dumps(block))
        block["source"] = {"path": str(data)}
        config = tmp_path / f"{form}.yaml"
        config.write_text(
            yaml.safe_dump(
                {"default_datasets": False, "preset": "smoke", "datasets": {"mine": block}}
            )
        )
        snakemake(workdir, "data/processed/mine.parquet", "--configfile", str(config))
        remote = subprocess.run(
            [
                sys.executable,
                "-m",
                "snakemake",
                "--mode",
                "remote",
                "--target-jobs",
                "fit:dataset=mine,model=fixed",
                "--allowed-rules",
                "fit",
                "--cores",
                "2",
                "--configfile",
                str(config),
                *config_words(),
            ],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=900,
            env={**os.environ, "SNAKEMAKE_PROFILE": ""},
        )
        assert remote.returncode == 0, remote.stderr[-3000:]
        diagnostics = json.loads((workdir / "results/mine/fixed/diagnostics.json").read_text())
        hashes[form] = diagnostics["config_sha256"]
        (workdir / "results/mine/fixed/diagnostics.json").unlink()
    assert hashes["minimal"] == hashes["explicit"]


LME4 = """
library(lme4)
d <- read.csv("{path}")
d$age <- d$mean_age - mean(d$mean_age)
m <- lmer(log(looking_time) ~ condition * age + (1 | lab) + (0 + condition | lab) +
          (1 | child) + (0 + condition | child), data = d, REML = TRUE)
cat(sprintf('{{"estimate": %.10g, "se": %.10g}}', fixef(m)[["condition"]],
    sqrt(as.matrix(vcov(m))["condition", "condition"])))
"""
METAFOR = """
library(metafor)
d <- read.csv("{path}")
m <- rma(yi = effect, sei = se, data = d, method = "REML")
cat(sprintf('{{"estimate": %.10g, "se": %.10g}}', m$b[1], m$se))
"""


def r_figures(code: str, path: Path) -> dict:
    import shutil

    rscript = shutil.which("Rscript")
    assert rscript, "Rscript not found: `make setup-test` installs R with lme4 and metafor"
    done = subprocess.run(
        [rscript, "-e", code.format(path=path)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_a_within_participant_study_goes_from_flags_to_a_verdict(tmp_path):
    """The shipped within-participant generator's file, scaffolded with flags only: the
    treatment found within participants (a slope per child), a lognormal ladder (the
    outcome guessed a time), the lab's mean age a centred moderator, the verdict on the
    log scale. Run as written (the quick preset), its participant rung's effect equals
    lme4's REML estimate on the same rows, and its meta-analysis rung metafor's on the
    same paired site estimates, each within a fifth of a posterior SD plus the Monte
    Carlo error; the report says the verdict."""
    from replication_ladder.data.synthetic import generate

    workdir = copy_workflow(tmp_path / "run")
    source = Ladder(yaml.safe_load((workdir / "config/config.yaml").read_text()))
    data = generate(source.dataset("within")["source"]).data
    path = tmp_path / "infants.csv"
    data.to_csv(path, index=False)
    out = tmp_path / "infants.yaml"
    flags = ["--outcome", "looking_time", "--treatment", "condition", "--site", "lab"]
    flags += ["--participant", "child", "--moderators", "mean_age", "--original-effect", "0.18"]
    made = new_dataset(str(path), "infants", *flags, "--out", str(out))
    assert made.returncode == 0, made.stderr
    text = out.read_text()
    assert "&id" not in text and "*id" not in text and "Warning" not in made.stderr
    block = yaml.safe_load(text)["datasets"]["infants"]
    assert block["design"] == {"within": ["condition"]} and block["outcome"]["kind"] == "time"
    assert block["replication"]["scale"] == "log"
    assert "(condition|child)" in block["models"]["participant"]["formula"]
    assert "condition:center(mean_age)" in block["models"]["participant"]["formula"]
    assert {m["family"] for m in block["models"].values()} == {"lognormal"}
    block["models"]["meta_analysis"] = {
        "kind": "pymc",
        "builder": "replication_ladder.models.builders.meta_analysis",
    }
    only = {"infants": ["participant", "meta_analysis"]}
    out.write_text(
        yaml.safe_dump(
            {
                "default_datasets": False,
                "preset": "quick",
                "only": only,
                "datasets": {"infants": block},
            }
        )
    )
    result = run_pipeline(workdir, "reports/infants.html", "--configfile", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    fitted = {p.parent.name for p in (workdir / "results/infants").glob("*/posterior.nc")}
    assert fitted == set(only["infants"])
    report = json.loads((workdir / "results/infants/replication.json").read_text())
    assert report["verdict_model"] == "participant" and "on the log scale" in report["verdict"]
    sites = tmp_path / "sites.csv"
    pd.read_parquet(workdir / "data/processed/infants.sites.parquet").to_csv(sites, index=False)
    references = {"participant": r_figures(LME4, path), "meta_analysis": r_figures(METAFOR, sites)}
    for model, reference in references.items():
        ours = pd.read_parquet(workdir / f"results/infants/{model}/summary.parquet").loc[
            "condition"
        ]
        line = ours["sd"] / 5 + 3 * ours["mcse_mean"]
        theirs = reference["estimate"]
        print(f"margin: {model}: {ours['mean']:.4f} against {theirs:.4f} (within {line:.4f})")
        assert abs(ours["mean"] - theirs) < line
    assert "on the log scale" in (workdir / "reports/infants.html").read_text()


def test_columns_named_like_the_packages_own_names_go_through_to_a_report(tmp_path):
    """A study whose treatment is `group`, outcome `effect`, site `site`, participant
    `chain` and covariate `draw` (names ArviZ, xarray and the site table use themselves):
    fitted, given a verdict and reported, its figures drawn."""
    workdir = copy_workflow(tmp_path / "run")
    rng = np.random.default_rng(3)
    people = 120
    group = rng.integers(0, 2, people)
    frame = pd.DataFrame(
        {
            "chain": np.repeat(np.arange(people), 2),
            "site": np.repeat(rng.choice(["a", "b", "c", "d"], people), 2),
            "group": np.repeat(group, 2),
            "draw": rng.normal(0, 1, 2 * people),
        }
    )
    frame["effect"] = 5 + 0.5 * frame["group"] + 0.2 * frame["draw"] + rng.normal(0, 1, 2 * people)
    path = tmp_path / "names.csv"
    frame.to_csv(path, index=False)
    block = {
        "source": {"path": str(path)},
        "columns": {
            "chain": "category",
            "site": "category",
            "group": "binary",
            "draw": "number",
            "effect": "number",
        },
        "outcome": {"range": [0, 10]},
        "site": "site",
        "participant": "chain",
        "replication": {
            "treatment": "group",
            "contrast": [0, 1],
            "original": {"effect": 0.6, "t": 2.2, "n1": 30, "n2": 30},
        },
        "models": {
            "fixed": {"formula": "effect ~ group + draw"},
            "participant": {"formula": "effect ~ group + draw + (group|site) + (1|chain)"},
            "meta_analysis": {
                "kind": "pymc",
                "builder": "replication_ladder.models.builders.meta_analysis",
            },
        },
    }
    config = tmp_path / "names.yaml"
    config.write_text(
        yaml.safe_dump({"default_datasets": False, "preset": "smoke", "datasets": {"names": block}})
    )
    result = run_pipeline(workdir, "reports/names.html", "--configfile", str(config))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((workdir / "results/names/replication.json").read_text())
    assert report["treatment"] == "group" and report["verdict"]
    html = (workdir / "reports/names.html").read_text()
    assert "Replication verdict" in html and "Traceback" not in html
    assert (workdir / "reports/names/ladder.savage_dickey.png").exists()
