"""The report's tables as a paper prints them (report/tables.py): counts whole, R-hat to
3 decimals, an estimate to the first significant digit of its Monte Carlo error, other
figures to 3 significant digits; the CSV beside the report keeps full precision."""

import pandas as pd

from replication_ladder.report.tables import printable, significant


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
