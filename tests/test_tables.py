"""The report's tables as a paper prints them (report/tables.py): counts whole, R-hat to
3 decimals, an estimate to the first significant digit of its Monte Carlo error, other
figures to 3 significant digits; the CSV beside the report keeps full precision."""

import pandas as pd

from replication_ladder.report.html import diagnostics_box
from replication_ladder.report.tables import log_score_units, printable, significant


def test_each_kind_of_figure_gets_its_precision():
    frame = pd.DataFrame(
        {
            "mean": [0.244176, 5090.9843],
            "sd": [0.0512739, 12.3456],
            "mcse_mean": [0.00312, 0.4],
            "ess_bulk": [1234.56, 88.2],
            "r_hat": [1.00412, 1.0],
            "p": [0.000070, 0.5],
            "label": ["a", None],
        },
        index=["condition", "Intercept"],
    )
    shown = printable(frame)
    assert shown.loc["condition"].tolist() == [
        "0.244",
        "0.0513",
        "0.00312",
        "1235",
        "1.004",
        "7.00e-05",
        "a",
    ]
    assert shown.loc["Intercept"].tolist() == [
        "5091.0",
        "12.3",
        "0.400",
        "88",
        "1.000",
        "0.500",
        "",
    ]
    assert significant(-0.0123456) == "-0.0123" and significant(0.0) == "0"


def test_the_report_shows_rounded_tables_and_saves_full_precision(tmp_path):
    from replication_ladder.report.dataset import DatasetReport

    report = DatasetReport({"spec": {}, "dataset": "x"}, {}, tmp_path)
    frame = pd.DataFrame({"mean": [0.123456789]}, index=["b"])
    assert report.table(frame, "t").loc["b", "mean"] == "0.123"
    saved = pd.read_csv(tmp_path / "t.csv", index_col=0)
    assert saved.loc["b", "mean"] == 0.123456789


def test_headers_carry_their_units_and_the_csv_keeps_the_names():
    """A column with a unit is headed 'name [unit]'; others keep their names; LOO's
    log scores and their standard errors are in nats, its p (effective parameters) and
    weights have none."""
    loo = pd.DataFrame(
        {"elpd": [-5090.98], "se": [41.2], "p": [12.3], "elpd_diff": [0.0], "dse": [0.0]},
        index=["fixed"],
    )
    shown = printable(loo, log_score_units(loo))
    assert shown.columns.tolist() == [
        "elpd [nats]",
        "se [nats]",
        "p",
        "elpd_diff [nats]",
        "dse [nats]",
    ]
    assert shown.loc["fixed", "elpd [nats]"] == "-5091"
    outcome = pd.DataFrame({"count": [880], "mean": [4.57], "std": [2.01]}, index=["smile"])
    unit = "rating points (0 to 9)"
    shown = printable(outcome, {"mean": unit, "std": unit, "count": ""})
    assert shown.columns.tolist() == ["count", f"mean [{unit}]", f"std [{unit}]"]


def test_the_diagnostics_box_says_how_many_draws_were_kept():
    """A thinned fit's box names the draws sampled and the share kept; an unthinned one
    (or one fitted before `thin` existed) names only the draws."""
    fit = {
        "sampler": "nutpie",
        "chains": 4,
        "draws": 4000,
        "tune": 1000,
        "target_accept": 0.9,
        "seed": 1,
        "divergences": 0,
        "max_r_hat": 1.004,
        "min_ess_bulk": 900.0,
        "min_ess_tail": 1200.0,
        "warnings": [],
    }
    assert "4 chains x 4000 draws (1 in 2 kept) after 1000" in diagnostics_box({**fit, "thin": 2})
    assert "4 chains x 4000 draws after 1000" in diagnostics_box(fit)
