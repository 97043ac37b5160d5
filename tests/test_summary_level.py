"""Summary-level studies: a messy export of per-site summaries (tests/summary_exports.py
writes one as Comprehensive Meta-Analysis does) read to the table of per-site effects,
bad files refused naming their line and column, the scaffold recognising each form, and
the README's two steps (make new-dataset, make run) from such a file to a report. The
shipped `rrr_labs` (the RRR's site table read back as a summary-level file) must agree
with the trial-level route on the same study."""

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from summary_exports import HEADER, LABS, SUMMARY, random_sites, write_export

from replication_ladder.base.errors import DataError
from replication_ladder.data import effect_sizes
from replication_ladder.data.readers import read_table
from replication_ladder.data.sites import participant_means, per_site_effects
from replication_ladder.data.summary_files import site_table, summary_form
from replication_ladder.scaffold.summary import recognise

from conftest import copy_workflow, new_dataset, run_command

TIDY = {"headers": "tidy"}


def test_a_messy_export_is_read_to_the_sites_effects(tmp_path):
    """Header with trailing spaces and 'Std Err' three times, two blank columns, E
    notation, non-ASCII names, a blank line and a 'Total' footer: the effects are those
    of effect_sizes on the written numbers, in each unit, and the footer is left out."""
    sites = random_sites(7, seed=1)
    raw = read_table(write_export(sites, tmp_path / "export.csv"), "csv", TIDY)
    assert raw.header[8] == "Std Err" and raw.header[10] == "Std Err.1"
    assert raw.header[12] == "Std Err.2" and raw.header[13] == "column 14"
    arms = [sites[f"{s}_treatment"] for s in ("mean", "sd", "n")]
    arms += [sites[f"{s}_control"] for s in ("mean", "sd", "n")]
    for unit in effect_sizes.UNITS:
        table, left_out = site_table(raw, SUMMARY, unit)
        effect, se = effect_sizes.from_arms(*arms, unit)
        np.testing.assert_allclose(table["effect"], effect, rtol=1e-12)
        np.testing.assert_allclose(table["se"], se, rtol=1e-12)
    assert list(table["site"]) == [f"Lab {name}" for name in LABS[:7]]
    assert len(left_out) == 1 and "'Total'" in left_out[0]
    # The effect-and-se form reads the software's own g (E notation) beside its Std Err.
    table, _ = site_table(
        raw, {"site": "Study name", "effect": "Hedges's g", "se": "Std Err.1"}, "g"
    )
    g, g_se = effect_sizes.from_arms(*arms, "g")
    np.testing.assert_allclose(table["effect"], g, rtol=1e-12)
    np.testing.assert_allclose(table["se"], g_se, rtol=1e-12)


def test_bad_summary_files_are_refused_naming_line_and_column(tmp_path):
    sites = random_sites(5, seed=2)
    path = write_export(sites, tmp_path / "export.csv")
    with pytest.raises(DataError, match=r"duplicate column name 'Std Err'.*headers: tidy"):
        read_table(path, "csv", {})
    raw = read_table(path, "csv", TIDY)
    with pytest.raises(DataError, match=r"missing column 'Mean T' \(summary: mean_treatment\)"):
        site_table(raw, {**SUMMARY, "treatment": {**SUMMARY["treatment"], "mean": "Mean T"}}, "raw")
    lines = path.read_text(encoding="utf-8").splitlines()
    cells = lines[3].split(",")
    cells[2] = ""  # the treated SD of the third site
    lines[3] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(
        DataError,
        match=r"line 4: column 'Treated Std-Dev' \(sd_treatment\) is empty for site 'Lab Köln'",
    ):
        site_table(read_table(path, "csv", TIDY), SUMMARY, "raw")
    cells[2] = "-1.5"
    lines[3] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(
        DataError, match=r"line 4: column 'Treated Std-Dev' \(sd_treatment\) must be positive"
    ):
        site_table(read_table(path, "csv", TIDY), SUMMARY, "raw")
    with pytest.raises(ValueError, match="a t statistic gives a standardized effect"):
        effect_sizes.from_t([2.0], [20], [20], "raw")


def test_every_fault_of_a_summary_file_is_listed_at_once(tmp_path):
    """Three bad cells in two rows and two columns: one error naming all three."""
    sites = random_sites(5, seed=2)
    path = write_export(sites, tmp_path / "export.csv")
    lines = path.read_text(encoding="utf-8").splitlines()
    for line, column, token in ((3, 2, ""), (4, 2, "-1"), (4, 3, "n/a?")):
        cells = lines[line].split(",")
        cells[column] = token
        lines[line] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as error:
        site_table(read_table(path, "csv", TIDY), SUMMARY, "raw")
    message = str(error.value)
    assert message.startswith("3 problem(s) in the file")
    assert "line 4: column 'Treated Std-Dev' (sd_treatment) is empty" in message
    assert "line 5: column 'Treated Std-Dev' (sd_treatment) must be positive" in message
    assert "line 5: column 'Treated Sample size'" in message and "is not a number" in message


@pytest.mark.parametrize(
    ("header", "form", "unit"),
    [
        (HEADER, "arms", "raw"),
        (["study", "m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"], "arms", "raw"),
        # Arms under the study's own labels, the statistic before or after them.
        (
            [
                "lab",
                "n_treated",
                "mean_treated",
                "sd_treated",
                "n_control",
                "mean_control",
                "sd_control",
            ],
            "arms",
            "raw",
        ),
        (
            [
                "Site",
                "Experimental Mean",
                "Experimental SD",
                "Experimental N",
                "Control Mean",
                "Control SD",
                "Control N",
            ],
            "arms",
            "raw",
        ),
        (
            [
                "lab",
                "treatment_mean",
                "treatment_sd",
                "treatment_n",
                "ctrl_mean",
                "ctrl_sd",
                "ctrl_n",
            ],
            "arms",
            "raw",
        ),
        (["Study name", "Hedges's g", "Std Err", "Lower limit"], "effect", "g"),
        (["lab", "yi", "sei"], "effect", "given"),
        (["lab", "yi", "vi"], "variance", "given"),
        (["study", "logOR", "SE"], "effect", "logOR"),
        (["study", "log_rr", "var"], "variance", "logRR"),
        (["study", "SMD", "lower", "upper"], "interval", "g"),
        (["lab", "est", "ci_low", "ci_high"], "interval", "given"),
        (["lab", "r", "se"], "effect", "given"),
        (["lab", "z", "se"], "effect", "z"),
        (["Lab", "t", "n treatment", "n control"], "t", "d"),
        (["Lab", "F", "sign", "n treatment", "n control"], "F", "d"),
        # A 2x2 table per site: events and n of each arm.
        (["lab", "events_treated", "n_treated", "events_control", "n_control"], "counts", "logOR"),
    ],
)
def test_the_scaffold_recognises_each_form_of_summary_file(header, form, unit):
    tidy = [name.strip() or f"column {i}" for i, name in enumerate(header, start=1)]
    seen: dict[str, int] = {}
    for i, name in enumerate(tidy):  # the tidy reader's numbering of repeats
        seen[name] = seen.get(name, -1) + 1
        tidy[i] = f"{name}.{seen[name]}" if seen[name] else name
    summary, found_unit = recognise(tidy)
    assert summary_form(summary) == form and found_unit == unit
    assert recognise(["Subject ID", "Lab", "Pen", "Item", "Rating"]) is None


def test_arms_the_header_cannot_tell_apart_are_asked_for_by_name():
    """Per-arm columns under two labels with no treated/control in their names (a real
    file's `n_teeth`, `n_lips`): refused naming the flag; with it, read."""
    from replication_ladder.base.errors import LadderError

    header = ["lab", "n_teeth", "mean_teeth", "sd_teeth", "n_lips", "mean_lips", "sd_lips"]
    with pytest.raises(LadderError, match=r"say which is the treatment with --arms"):
        recognise(header)
    summary, unit = recognise(header, {"arms": ["teeth", "lips"]})
    assert summary["treatment"] == {"mean": "mean_teeth", "sd": "sd_teeth", "n": "n_teeth"}
    assert summary["site"] == "lab" and unit == "raw"
    with pytest.raises(LadderError, match=r"--arms teeth,pens: no mean, SD and n"):
        recognise(header, {"arms": ["teeth", "pens"]})


def test_an_f_statistic_gives_the_arms_effect_with_its_sign(tmp_path):
    """Per site, raw ratings of two arms: scipy's `f_oneway` gives the F, the means its
    sign; read as the F form, each site's g and SE equal those of the arms' means, SDs
    and n (held to metafor's escalc in test_sites.py). An F without its sign is refused
    by the scaffold naming the column; a negative F or a sign of 0 names row and column."""
    from scipy import stats

    from replication_ladder.base.errors import LadderError

    rng = np.random.default_rng(5)
    rows = []
    for lab, shift in zip("abcd", (0.6, -0.3, 0.1, 0.9), strict=True):
        treated, control = rng.normal(shift, 1, rng.integers(15, 40)), rng.normal(0, 1, 30)
        rows.append(
            {
                "lab": lab,
                "F": stats.f_oneway(treated, control).statistic,
                "sign": 1 if treated.mean() > control.mean() else -1,
                **{f"mean_{a}": x.mean() for a, x in (("t", treated), ("c", control))},
                **{f"sd_{a}": x.std(ddof=1) for a, x in (("t", treated), ("c", control))},
                "n_treatment": len(treated),
                "n_control": len(control),
            }
        )
    path = tmp_path / "f.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    raw = read_table(path, "csv", {})
    summary, unit = recognise(list(raw.header))
    assert summary_form(summary) == "F" and summary["sign"] == "sign" and unit == "d"
    from_f, _ = site_table(raw, {**summary, "site": "lab"}, "g")
    arms = {
        "site": "lab",
        "treatment": {"mean": "mean_t", "sd": "sd_t", "n": "n_treatment"},
        "control": {"mean": "mean_c", "sd": "sd_c", "n": "n_control"},
    }
    from_arms, _ = site_table(raw, arms, "g")
    np.testing.assert_allclose(from_f["effect"], from_arms["effect"], rtol=1e-10)
    np.testing.assert_allclose(from_f["se"], from_arms["se"], rtol=1e-10)
    assert (np.sign(from_f["effect"]) == [r["sign"] for r in rows]).all()
    with pytest.raises(LadderError, match=r"column 'F' is an F statistic, which has no sign"):
        recognise([n for n in raw.header if n != "sign"])
    broken = pd.DataFrame(rows).assign(F=[-1.0, 2, 3, 4], sign=[1, 0, 1, -1])
    broken.to_csv(path, index=False)
    with pytest.raises(
        DataError,
        match=r"(?s)2 problem.*line 2: column 'F' \(F\) cannot be negati"
        r"ve.*line 3: column 'sign' \(sign\) must be 1 or -1",
    ):
        site_table(read_table(path, "csv", {}), {**summary, "site": "lab"}, "g")


def test_a_summary_file_in_no_known_form_is_refused_never_regressed():
    """A log odds ratio with its SE named unusually: no ladder of `se ~ logor`, no
    config without a site; the flags that would name it are said."""
    from replication_ladder.base.errors import LadderError
    from replication_ladder.scaffold.summary import refuse_summary_columns

    with pytest.raises(LadderError, match=r"looks like per-site summaries \(logOR, SE\)"):
        refuse_summary_columns(["lab", "logOR", "SE", "weight"], {})
    summary, unit = recognise(["lab", "lnOR", "precision"], {"effect": "lnOR", "se": "precision"})
    assert summary == {"site": "lab", "effect": "lnOR", "se": "precision"} and unit == "logOR"


@pytest.mark.workflow
def test_a_summary_export_runs_from_the_scaffold_to_its_report(tmp_path, rrr_table):
    """The README's two steps on a CMA-like export of the RRR's per-lab summaries: the
    scaffolded config runs unedited to a report with the forest plot, the inclusion
    Bayes factors and the verdict; its per-site effects are the trial-level route's."""
    workdir = copy_workflow(tmp_path / "run")
    sites = per_site_effects(participant_means(rrr_table, "study", "uid", "condition", "value"))
    export = write_export(sites, tmp_path / "rrr_labs_export.csv")
    out = tmp_path / "labs.yaml"
    made = new_dataset(str(export), "labs", "--original-effect", "0.82", "--out", str(out))
    assert made.returncode == 0, made.stderr
    block = yaml.safe_load(out.read_text())["datasets"]["labs"]
    assert block["summary"] == SUMMARY and block["source"]["read"] == TIDY
    command = run_command(
        "reports/labs.html", "--configfile", str(out), "--set-threads", "fit=1", "loo=1",
        config={"preset": "smoke"},
    )  # fmt: skip
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stderr[-3000:]
    table = pd.read_parquet(workdir / "data/processed/labs.parquet")
    np.testing.assert_allclose(table["effect"], sites["effect"], rtol=1e-10)
    np.testing.assert_allclose(table["se"], sites["se"], rtol=1e-10)
    page = (workdir / "reports/labs.html").read_text()
    for text in (
        "inclusion BF10",
        "How the inclusion Bayes factors depend on the priors",
        "Funnel plot</h3>",
        "Egger",
        "does not replicate",
    ):
        assert text in page, text
    figures = {p.name for p in (workdir / "reports/labs").iterdir()}
    assert {
        "meta.forest.png",
        "meta.sensitivity.png",
        "meta.funnel.png",
        "meta.models.csv",
    } <= figures


@pytest.mark.workflow
def test_the_summary_route_agrees_with_the_trial_level_route(pipeline):
    """rrr_labs reads the RRR's site table back as a summary-level file: the same
    per-site effects, so the same marginal likelihoods (exact: quadrature), averaged
    estimates within their Monte Carlo error, and the random-effects rung's pooled
    effect within the MCMC error of the trial-level meta_analysis rung's (same priors)."""
    trial = pd.read_parquet(pipeline / "data/processed/rrr.sites.parquet")
    summary = pd.read_parquet(pipeline / "data/processed/rrr_labs.parquet")
    np.testing.assert_allclose(summary["effect"], trial["effect"], rtol=1e-12)
    np.testing.assert_allclose(summary["se"], trial["se"], rtol=1e-12)
    averaged = {
        d: json.loads((pipeline / f"results/{d}/model_averaging.json").read_text())
        for d in ("rrr", "rrr_labs")
    }
    for model, result in averaged["rrr"]["models"].items():
        other = averaged["rrr_labs"]["models"][model]
        assert result["log_marginal_likelihood"] == pytest.approx(
            other["log_marginal_likelihood"], abs=1e-9
        )
    effect = [averaged[d]["averaged"]["effect"] for d in ("rrr", "rrr_labs")]
    mcse = effect[0]["sd"] / np.sqrt(averaged["rrr"]["draws"])
    assert abs(effect[0]["mean"] - effect[1]["mean"]) < 5 * np.sqrt(2) * mcse
    posteriors = [
        xr.open_datatree(pipeline / f"results/{d}/{m}/posterior.nc")["posterior"][
            "condition"
        ].values.ravel()
        for d, m in (("rrr", "meta_analysis"), ("rrr_labs", "random_effects"))
    ]
    # Smoke-sized chains: the MCMC error allows for autocorrelation (ESS a tenth of draws).
    mcse = np.hypot(*(p.std() / np.sqrt(p.size / 10) for p in posteriors))
    assert abs(posteriors[0].mean() - posteriors[1].mean()) < 4 * mcse
    assert (pipeline / "reports/rrr_labs/meta.forest.png").exists()


def test_the_original_is_converted_with_its_own_sd():
    """Closed form: d = raw / SD (and back), its se alike; t and the group sizes stay.
    The SD is the original's own: given, or from its SE (0.44 with 31 and 31: SD 1.732,
    so d = 0.473); the replication's pooled SD (1.6 here) only where neither is known,
    and the conversion says which. With the replication's SD, a d of 0.51 was tested."""
    from replication_ladder.verdict.replication import converted_original

    original = {"effect": 0.82, "se": 0.44, "t": 1.85, "n1": 31, "n2": 31, "unit": "raw"}
    own = 0.44 / np.sqrt(2 / 31)
    as_d, conversion = converted_original(original, "d", 1.6)
    assert as_d["effect"] == pytest.approx(0.82 / own) and as_d["se"] == pytest.approx(0.44 / own)
    assert as_d["t"] == 1.85 and as_d["n1"] == 31 and conversion["sd"] == pytest.approx(own)
    assert conversion["sd_from"] == "the original's SD, from its SE and group sizes"
    given = converted_original({**original, "sd": 2.0}, "d", 1.6)
    assert given[0]["effect"] == pytest.approx(0.41) and "original.sd" in given[1]["sd_from"]
    in_d = {"effect": 0.5, "t": 1.85, "n1": 31, "n2": 31, "unit": "d"}
    back, conversion = converted_original(in_d, "raw", 1.6)
    assert back["effect"] == pytest.approx(0.8) and "replication's SD" in conversion["sd_from"]
    assert converted_original(original, "raw", 1.6) == (original, None)
    assert converted_original({**original, "unit": "d"}, "g", 1.6)[1] is None


def test_a_summary_dataset_in_d_with_a_raw_original_leaves_its_test_prior_to_the_job():
    from replication_ladder.config import Ladder

    from conftest import config_copy

    config = config_copy()
    labs = config["datasets"]["rrr_labs"]
    labs["effect_size"] = "g"
    labs["replication"]["original"]["unit"] = "raw"
    spec = Ladder(config).replication_spec("rrr_labs")
    assert "test_prior" not in spec and spec["effect_size"] == "g"
    config = config_copy()
    config["datasets"]["rrr"]["effect_size"] = "d"
    with pytest.raises(Exception, match=r"datasets\.rrr\.effect_size: d for a trial-level"):
        Ladder(config)


COUNTS_ESCALC = """
library(metafor)
d <- read.csv("{path}")
or <- escalc("OR", ai = a, n1i = n1, ci = c, n2i = n2, data = d)
rr <- escalc("RR", ai = a, n1i = n1, ci = c, n2i = n2, data = d)
write.csv(data.frame(or = or$yi, or_v = or$vi, rr = rr$yi, rr_v = rr$vi), "{out}",
    row.names = FALSE)
"""


def test_counts_variances_and_intervals_give_metafors_effects(tmp_path):
    """A 2x2 table per site (one with no events in an arm) read as escalc's OR and RR
    with its half added to an empty cell's site; an effect with its variance, and with
    its 95% interval, give the SE back."""
    import shutil

    from replication_ladder.data.readers import read_table

    counts = pd.DataFrame(
        {
            "lab": ["a", "b", "c", "d"],
            "a": [12, 0, 30, 7],
            "n1": [40, 35, 60, 20],
            "c": [6, 4, 22, 9],
            "n2": [41, 30, 58, 22],
        }
    )
    path, out = tmp_path / "counts.csv", tmp_path / "metafor.csv"
    counts.to_csv(path, index=False)
    rscript = shutil.which("Rscript")
    assert rscript, "Rscript not found: `make setup-test` installs r-base-core and r-cran-metafor"
    code = COUNTS_ESCALC.format(path=path, out=out)
    subprocess.run([rscript, "-e", code], capture_output=True, text=True, check=True)
    theirs = pd.read_csv(out)
    block = {
        "site": "lab",
        "treatment": {"events": "a", "n": "n1"},
        "control": {"events": "c", "n": "n2"},
    }
    raw = read_table(path, "csv", {})
    for unit, name in (("logOR", "or"), ("logRR", "rr")):
        table, _ = site_table(raw, block, unit)
        np.testing.assert_allclose(table["effect"], theirs[name], rtol=1e-10)
        np.testing.assert_allclose(table["se"] ** 2, theirs[f"{name}_v"], rtol=1e-10)
    given = pd.DataFrame(
        {
            "lab": ["a", "b"],
            "yi": [0.3, -0.1],
            "vi": [0.04, 0.09],
            "lower": [0.3 - 1.959963984540054 * 0.2, -0.1 - 1.959963984540054 * 0.3],
            "upper": [0.3 + 1.959963984540054 * 0.2, -0.1 + 1.959963984540054 * 0.3],
        }
    )
    given.to_csv(path, index=False)
    raw = read_table(path, "csv", {})
    for block in (
        {"site": "lab", "effect": "yi", "variance": "vi"},
        {"site": "lab", "effect": "yi", "lower": "lower", "upper": "upper"},
    ):
        table, _ = site_table(raw, block, "given")
        np.testing.assert_allclose(table["se"], [0.2, 0.3], rtol=1e-12)
        np.testing.assert_allclose(table["effect"], [0.3, -0.1], rtol=1e-12)
