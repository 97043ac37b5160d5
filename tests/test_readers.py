"""Readers for the formats studies publish, written by the tests themselves: CSV with
semicolons and decimal commas, TSV, Excel, SPSS with value labels, Stata, Parquet; and
each file validated into the same processed table."""

import numpy as np
import pandas as pd
import pytest

from replication_ladder.base.errors import DataError
from replication_ladder.data.readers import read_table, source_format
from replication_ladder.data.validation import process

ROWS = 24
SITES = ["Zürich Lab", "São Paulo", "Köln"]


def frame() -> pd.DataFrame:
    """A small study: a string-coded treatment, sites with spaces and non-ASCII letters."""
    rng = np.random.default_rng(4)
    return pd.DataFrame(
        {
            "Subject ID": np.arange(1, ROWS + 1),
            "Lab": [SITES[i % 3] for i in range(ROWS)],
            "Pen": ["teeth" if i % 2 else "lips" for i in range(ROWS)],
            "Rating": np.round(rng.normal(4.5, 1.5, ROWS), 2),
            "Age": rng.integers(18, 40, ROWS).astype(float),
        }
    )


SPEC = {
    "dataset": "mine",
    "read": {},
    "columns": {
        "participant": "category",
        "lab": "category",
        "pen": "category",
        "rating": "number",
        "age": "number",
    },
    "rename": {
        "Subject ID": "participant",
        "Lab": "lab",
        "Pen": "pen",
        "Rating": "rating",
        "Age": "age",
    },
    "dropna": ["lab", "pen", "rating"],
    "site": "lab",
    "participant": "participant",
    "treatment": "pen",
    "contrast": ["lips", "teeth"],
    "pinned": True,
}


def check(table: pd.DataFrame, record: dict) -> None:
    expected = frame()
    assert len(table) == ROWS and record["rows_kept"] == ROWS
    np.testing.assert_allclose(table["rating"], expected["Rating"])
    assert table["pen"].tolist() == [int(p == "teeth") for p in expected["Pen"]]
    assert record["contrast"] == {"column": "pen", "control": "lips", "treatment": "teeth"}
    assert sorted(table["lab"].astype(str).unique()) == sorted(SITES)
    assert record["site_levels"] and set(record["site_levels"]) == set(SITES)


def test_semicolons_and_decimal_commas(tmp_path):
    path = tmp_path / "study.csv"
    frame().to_csv(path, sep=";", decimal=",", index=False, encoding="utf-8")
    assert "," in path.read_text().splitlines()[1]  # really a decimal comma
    table, record = process(path, {**SPEC, "format": "csv", "read": {"sep": ";", "decimal": ","}})
    check(table, record)


def test_a_wrong_delimiter_says_which_key_to_set(tmp_path):
    path = tmp_path / "study.csv"
    frame().to_csv(path, sep=";", decimal=",", index=False)
    with pytest.raises(
        DataError,
        match=r"line 1: the header is one field holding semicolons: .*set source\.read\.sep: ';'",
    ):
        process(path, {**SPEC, "format": "csv", "read": {"sep": ","}})


def test_a_decimal_comma_without_the_setting_is_named(tmp_path):
    path = tmp_path / "study.csv"
    frame().to_csv(path, sep=";", decimal=",", index=False)
    with pytest.raises(
        DataError,
        match=r"column 'rating': '[0-9]+,[0-9]+' is not a number "
        r"\(a decimal comma\? set source\.read\.decimal",
    ):
        process(path, {**SPEC, "format": "csv", "read": {"sep": ";"}})


def test_latin1_with_its_encoding_and_without(tmp_path):
    path = tmp_path / "study.txt"
    frame().to_csv(path, sep="\t", index=False, encoding="latin-1")
    table, record = process(path, {**SPEC, "format": "txt", "read": {"encoding": "latin-1"}})
    check(table, record)
    with pytest.raises(DataError, match=r"bytes that are not utf-8.*source\.read\.encoding"):
        process(path, {**SPEC, "format": "txt"})


def test_tsv_with_lines_to_skip(tmp_path):
    path = tmp_path / "study.tsv"
    path.write_text("exported by a lab system\nversion 2\n" + frame().to_csv(sep="\t", index=False))
    table, record = process(path, {**SPEC, "format": "tsv", "read": {"skiprows": 2}})
    check(table, record)


def test_excel(tmp_path):
    path = tmp_path / "study.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"notes": ["see the other sheet"]}).to_excel(
            writer, sheet_name="readme", index=False
        )
        frame().to_excel(writer, sheet_name="data", index=False)
    table, record = process(path, {**SPEC, "format": "xlsx", "read": {"sheet": "data"}})
    check(table, record)
    with pytest.raises(DataError, match=r"no sheet named 'raw' \(sheets: readme, data\)"):
        process(path, {**SPEC, "format": "xlsx", "read": {"sheet": "raw"}})


def test_excel_locations_name_the_sheet_and_row(tmp_path):
    path = tmp_path / "study.xlsx"
    broken = frame().astype({"Rating": object})
    broken.loc[4, "Rating"] = "n/a?"
    broken.to_excel(path, sheet_name="data", index=False)
    with pytest.raises(
        DataError, match=r"row 6 of sheet 'data': column 'rating': 'n/a\?' is not a number"
    ):
        process(path, {**SPEC, "format": "xlsx"})


def test_spss_value_labels_become_levels(tmp_path):
    import pyreadstat

    data = frame()
    codes = {"lips": 1, "teeth": 2}
    data["Pen"] = data["Pen"].map(codes).astype(float)
    data["Lab"] = data["Lab"].map({site: i for i, site in enumerate(SITES, start=1)}).astype(float)
    path = tmp_path / "study.sav"
    pyreadstat.write_sav(
        data.rename(columns={"Subject ID": "SubjectID"}),
        path,
        variable_value_labels={
            "Pen": {1.0: "lips", 2.0: "teeth"},
            "Lab": {float(i): site for i, site in enumerate(SITES, start=1)},
        },
    )
    spec = {**SPEC, "format": "sav", "rename": {**SPEC["rename"], "SubjectID": "participant"}}
    del spec["rename"]["Subject ID"]
    table, record = process(path, spec)
    check(table, record)
    # Levels in the order of their codes, not alphabetically.
    assert record["site_levels"] == SITES


def test_stata(tmp_path):
    import pyreadstat

    path = tmp_path / "study.dta"
    data = frame().rename(columns={"Subject ID": "SubjectID"})
    pyreadstat.write_dta(data, path)
    spec = {**SPEC, "format": "dta", "rename": {**SPEC["rename"], "SubjectID": "participant"}}
    del spec["rename"]["Subject ID"]
    table, record = process(path, spec)
    check(table, record)


def test_parquet(tmp_path):
    path = tmp_path / "study.parquet"
    frame().to_parquet(path)
    table, record = process(path, {**SPEC, "format": "parquet"})
    check(table, record)


def test_a_level_outside_the_contrast_is_named(tmp_path):
    path = tmp_path / "study.csv"
    data = frame()
    data.loc[3, "Pen"] = "nose"
    data.to_csv(path, index=False)
    with pytest.raises(
        DataError, match=r"line 5: column 'pen' \(the treatment\): level 'nose' is neither"
    ):
        process(path, {**SPEC, "format": "csv"})


def test_the_format_comes_from_the_extension_or_the_setting():
    assert source_format({"path": "a/b/Study.XLSX"}) == "xlsx"
    assert source_format({"url": "https://example.org/x/data.sav"}) == "sav"
    assert source_format({"path": "data.dat", "read": {"format": "tsv"}}) == "tsv"
    with pytest.raises(ValueError, match=r"cannot tell the format of 'data\.dat'"):
        source_format({"path": "data.dat"})


@pytest.mark.parametrize("fmt", ["xlsx", "sav", "dta", "parquet"])
def test_a_file_that_is_not_its_format_is_named(tmp_path, fmt):
    path = tmp_path / f"study.{fmt}"
    path.write_bytes(b"this is text, not a binary file\n" * 10)
    with pytest.raises(DataError, match=rf"{path.name}: not a readable"):
        read_table(path, fmt)
