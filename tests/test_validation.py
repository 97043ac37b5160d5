"""Validation of raw files: the RRR itself, and a table of malformed inputs.

Every bad input must give an error naming the file and the problem (and the column and
line where there is one) and leave no processed file; the inputs a careful tool should
accept (a byte order mark, quoted newlines, NaN as missing) must be processed correctly.
"""

import pandas as pd
import pytest

from replication_ladder.base.errors import DataError
from replication_ladder.data.processing import write_processed

SPEC = {
    "dataset": "rrr",
    "format": "csv",
    "read": {},
    "rename": {},
    "participant": None,
    "contrast": [0, 1],
    "pinned": True,
    "columns": {
        "uid": "category",
        "condition": "binary",
        "gender": "binary",
        "age": "number",
        "study": "category",
        "self_perf": "number",
        "stimulus": "category",
        "value": "number",
    },
    "dropna": ["value", "condition", "age", "gender", "study"],
    "site": "study",
    "treatment": "condition",
}
HEADER = "uid,condition,gender,age,study,self_perf,stimulus,value"
ROWS = [
    "1.0,0.0,1.0,24.0,0.0,8.0,rating_c1,3.0",
    "2.0,1.0,0.0,27.0,0.0,9.0,rating_c1,7.0",
    "3.0,0.0,1.0,25.0,1.0,3.0,rating_c1,5.0",
    "5.0,1.0,1.0,20.0,1.0,3.0,rating_c2,7.0",
]


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def run(tmp_path, content: bytes | str, spec: dict = SPEC):
    tmp_path = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
    tmp_path.mkdir()
    raw = tmp_path / "raw.csv"
    raw.write_bytes(content.encode() if isinstance(content, str) else content)
    table_path, record_path = tmp_path / "out.parquet", tmp_path / "out.json"
    try:
        record = write_processed(raw, spec, table_path, record_path)
    except DataError:
        assert not table_path.exists() and not record_path.exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["raw.csv"]
        raise
    return pd.read_parquet(table_path), record


def test_rrr_keeps_6907_of_6940_rows(rrr_mirror, tmp_path):
    table, record = run(tmp_path, (rrr_mirror / "rrr_long.csv").read_bytes())
    assert (record["rows_raw"], record["rows_kept"], record["rows_removed"]) == (6940, 6907, 33)
    assert record["removed_by_column"] == {
        "value": 9,
        "condition": 0,
        "age": 16,
        "gender": 16,
        "study": 0,
    }
    assert record["sites"] == 17
    assert table["study"].dtype == "category"
    assert list(table["study"].cat.categories) == [str(k) for k in range(17)]
    assert table["condition"].dtype == "int64" and set(table["condition"]) == {0, 1}
    assert table["self_perf"].isna().sum() == record["missing_kept"]["self_perf"] == 368


BAD_INPUTS = {
    "missing column": (
        csv_text(*ROWS).replace("value", "rating"),
        r"raw\.csv: missing column 'value' \(the header has: uid,.*rating\)",
    ),
    "text in a numeric column": (
        csv_text(ROWS[0], ROWS[1].replace("27.0", "twenty")),
        r"raw\.csv: line 3: column 'age': 'twenty' is not a number",
    ),
    "empty file": ("", r"raw\.csv: the file is empty"),
    "whitespace only": ("\n \n", r"raw\.csv: the file is empty"),
    "header only": (HEADER + "\n", r"raw\.csv: the header has no data rows"),
    "wrong delimiter": (
        csv_text(*ROWS).replace(",", ";"),
        r"raw\.csv: line 1: the header is one field holding semicolons: the file is not "
        r"separated by ','; set source\.read\.sep: ';'",
    ),
    "duplicate column names": (
        csv_text(*ROWS, header=HEADER.replace("self_perf", "age")),
        r"raw\.csv: line 1: duplicate column name 'age' \(columns 4 and 6\)",
    ),
    "non-UTF-8 bytes": (
        csv_text(*ROWS).encode().replace(b"rating_c2", b"rating_\xe9"),
        r"raw\.csv: line 5: bytes that are not utf-8 .*set source\.read\.encoding",
    ),
    "truncated file": (
        csv_text(*ROWS)[:-25],
        r"raw\.csv: line 5: expected 8 fields as in the header, found \d "
        r"\(truncated file\?\)",
    ),
    "binary garbage": (bytes(range(256)) * 40, r"raw\.csv: line \d+: binary data \(a NUL byte\)"),
    "garbage without NUL": (b"\xff\xfe\xfa" * 1000, r"raw\.csv: line 1: bytes that are not utf-8"),
    "a line of tens of megabytes": (
        HEADER + "\n" + "x" * 30_000_000 + "\n",
        r"raw\.csv: line 2: malformed CSV: a field is longer than",
    ),
    "many fields on one line": (
        HEADER + "\n" + "1," * 5_000_000 + "1\n",
        r"raw\.csv: line 2: expected 8 fields as in the header, "
        r"found 5000001",
    ),
    "unterminated quote": (
        csv_text(*ROWS) + '6.0,0.0,1.0,22.0,1.0,3.0,"rating_c3,5.0\n',
        r"raw\.csv: line \d+: malformed CSV: unexpected end of data",
    ),
    "infinite value": (
        csv_text(ROWS[0], ROWS[1].rsplit(",", 1)[0] + ",-inf"),
        r"raw\.csv: line 3: column 'value': infinite value '-inf'",
    ),
    "binary column not 0 or 1": (
        csv_text(ROWS[0], ROWS[1].replace("2.0,1.0", "2.0,2.0")),
        r"raw\.csv: line 3: column 'condition': '2\.0' is not 0 or 1",
    ),
    "treatment with one level": (
        csv_text(*(r.replace(",1.0,", ",0.0,", 1) for r in ROWS[:2]), ROWS[2]),
        r"raw\.csv: column 'condition' \(the treatment\) has a single "
        r"level",
    ),
    "all-missing column that drops every row": (
        csv_text(*(r.replace("rating_c1,", "rating_c1,").rsplit(",", 1)[0] + ",NA" for r in ROWS)),
        r"raw\.csv: no rows left after removing rows with missing values in value, .*'value': 4",
    ),
    "a name longer than the limit shown shortened": (
        csv_text(ROWS[0], ROWS[1].replace("27.0", "y" * 500)),
        r"line 3: column 'age': 'y{40}\.\.\.' is not a number",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_named_and_leaves_nothing(tmp_path, case):
    content, message = BAD_INPUTS[case]
    with pytest.raises(DataError, match=message):
        run(tmp_path, content)


def test_byte_order_mark_is_dropped(tmp_path):
    table, _ = run(tmp_path, "\ufeff" + csv_text(*ROWS))
    assert list(table.columns) == list(SPEC["columns"])
    assert len(table) == 4


def test_quoted_newlines_stay_in_their_field_and_lines_count(tmp_path):
    quoted = ROWS[1].replace("rating_c1", '"rating\nc1"')
    with pytest.raises(DataError, match=r"line 6: column 'age': 'x' is not a number"):
        run(tmp_path, csv_text(ROWS[0], quoted, ROWS[2], ROWS[3].replace("20.0", "x")))
    table, _ = run(tmp_path, csv_text(ROWS[0], quoted, ROWS[2], ROWS[3]))
    assert "rating\nc1" in set(table["stimulus"])


def test_nan_and_blank_are_missing_and_dropped_where_declared(tmp_path):
    rows = [ROWS[0].replace("24.0", "NaN"), ROWS[1].replace("9.0", ""), ROWS[2], ROWS[3]]
    table, record = run(tmp_path, csv_text(*rows))
    assert record["rows_removed"] == 1 and record["removed_by_column"]["age"] == 1
    assert table["self_perf"].isna().sum() == 1  # not a dropna column: kept as missing


def test_site_with_one_row_is_a_warning(tmp_path):
    table, record = run(tmp_path, csv_text(*ROWS, ROWS[0].replace(",0.0,8.0", ",7.0,8.0")))
    assert record["warnings"] == ["sites with a single row in 'study': 7"]
    assert len(table) == 5


def test_all_missing_column_kept_is_a_warning(tmp_path):
    rows = [",".join([*r.split(",")[:5], "NA", *r.split(",")[6:]]) for r in ROWS]
    _, record = run(tmp_path, csv_text(*rows))
    assert "column 'self_perf' has no values (all missing)" in record["warnings"]


def test_declared_levels_are_enforced_and_ordered(tmp_path):
    spec = {
        **SPEC,
        "columns": {
            **SPEC["columns"],
            "stimulus": {"type": "category", "levels": ["rating_c2", "rating_c1"]},
        },
    }
    table, _ = run(tmp_path, csv_text(*ROWS), spec)
    assert list(table["stimulus"].cat.categories) == ["rating_c2", "rating_c1"]
    with pytest.raises(
        DataError,
        match=r"line 2: column 'stimulus': level 'rating_c9' is not "
        r"among the declared levels \(rating_c2, rating_c1\)",
    ):
        run(tmp_path, csv_text(ROWS[0].replace("c1", "c9"), *ROWS[1:]), spec)


def test_data_cannot_execute_code(tmp_path):
    payload = "__import__('os').system('touch pwned')"
    table, _ = run(tmp_path, csv_text(*ROWS[:3], ROWS[3].replace("rating_c2", f'"{payload}"')))
    assert payload in set(table["stimulus"])
    assert not (tmp_path / "pwned").exists()


def test_columns_are_renamed_and_the_rename_is_recorded(tmp_path):
    spec = {**SPEC, "rename": {"value": "rating"}, "dropna": ["rating"]}
    spec["columns"] = {
        **{k: v for k, v in SPEC["columns"].items() if k != "value"},
        "rating": "number",
    }
    table, record = run(tmp_path, csv_text(*ROWS), spec)
    assert "rating" in table and "value" not in table
    assert record["renamed"] == {"value": "rating"}
    with pytest.raises(DataError, match=r"missing column 'score' \(renamed to 'points'\)"):
        run(
            tmp_path,
            csv_text(*ROWS),
            {
                **spec,
                "rename": {"value": "rating", "score": "points"},
                "columns": {**spec["columns"], "points": "number"},
            },
        )


def test_a_flipped_contrast_flips_the_treatment(tmp_path):
    table, record = run(tmp_path, csv_text(*ROWS), {**SPEC, "contrast": [1, 0]})
    assert table["condition"].tolist() == [1, 0, 1, 0]
    assert record["contrast"] == {"column": "condition", "control": "1", "treatment": "0"}


def test_participants_are_counted_and_labelled_within_sites(tmp_path):
    """uid 1 rates twice in study 0 and is another participant in study 1: three levels
    of uid per pair that occurs (not every pair of study and uid), one per participant."""
    rows = [
        *ROWS,
        ROWS[0].replace("rating_c1", "rating_c2"),
        "1.0,1.0,0.0,30.0,1.0,4.0,rating_c1,2.0",
    ]
    table, record = run(tmp_path, csv_text(*rows), {**SPEC, "participant": "uid"})
    assert record["participants"] == 5
    assert list(table["uid"].cat.categories) == ["0:1", "0:2", "1:1", "1:3", "1:5"]
    assert table["uid"].tolist() == ["0:1", "0:2", "1:3", "1:5", "0:1", "1:1"]


def test_an_unpinned_file_is_recorded_with_its_hash(tmp_path):
    import hashlib

    content = csv_text(*ROWS)
    _, record = run(tmp_path, content, {**SPEC, "pinned": False})
    digest = hashlib.sha256(content.encode()).hexdigest()
    assert record["raw_sha256"] == digest and not record["pinned"]
    assert any("not pinned" in w and digest in w for w in record["warnings"])


def test_a_filter_keeps_the_rows_of_the_analysis_and_counts_the_rest(tmp_path):
    """Rows of other stimuli than the two listed are not part of the analysis: left out
    and counted, as missing values are, under the filter's column."""
    spec = {**SPEC, "filter": {"stimulus": ["rating_c1"]}}
    rows = [*ROWS, ROWS[3].replace("rating_c2", "practice")]
    table, record = run(tmp_path, csv_text(*rows), spec)
    assert list(table["stimulus"].astype(str)) == ["rating_c1"] * 3
    assert record["removed_by_column"]["stimulus not in filter"] == 2
    assert record["rows_removed"] == 2


def test_a_declared_design_is_checked_against_the_data(tmp_path):
    """A treatment declared within participants that no participant has both levels of,
    and a column declared between them that varies within one: both named at once."""
    spec = {**SPEC, "participant": "uid", "design": {"within": ["condition"], "between": ["age"]}}
    rows = [*ROWS, ROWS[0].replace("24.0", "25.0")]  # participant 1 at two ages
    with pytest.raises(
        DataError,
        match=r"'condition' is declared within participants but varies "
        r"within 0% of them; 'age' is declared between participants but 1 of",
    ):
        run(tmp_path, csv_text(*rows), spec)
