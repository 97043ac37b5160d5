"""New rows to predict: from a file, held-out rows or a grid, checked like data."""

import pandas as pd
import pytest

from replication_ladder.base.errors import ConfigError, DataError
from replication_ladder.config import Ladder
from replication_ladder.models.predict import rows_to_predict

from conftest import CONFIG, config_copy

LADDER = Ladder(config_copy())


@pytest.fixture(scope="module")
def categorical_data():
    from replication_ladder.data.synthetic import generate

    data = generate(CONFIG["datasets"]["categorical"]["source"]).data
    data["D"] = pd.Categorical(data["D"].astype(str), categories=["0", "1"])
    return data


def write(tmp_path, text: str):
    path = tmp_path / "new.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("X\n0.5\n", r"new\.csv: predictor column 'D' is missing \(the models predict from X, D\)"),
        ("X,D,weight\n0.5,1,3\n", r"new\.csv: column 'weight' is not a predictor of any model"),
        (
            "X,D\n0.5,1\n0.1,2\n",
            r"new\.csv: column 'D' has level '2', which the models never saw \(levels: 0, 1\)",
        ),
        ("X,D\n0.5,1\n,0\n", r"new\.csv: line 3: column 'X' has no value"),
        ("X,D\nabc,1\n", r"new\.csv: line 2: column 'X': 'abc' is not a number"),
    ],
)
def test_bad_new_rows_name_the_column_or_level(tmp_path, categorical_data, text, message):
    spec = LADDER.new_rows_spec("categorical")
    spec["predict"] = {"file": "new.csv"}
    with pytest.raises(DataError, match=message):
        rows_to_predict(spec, categorical_data, write(tmp_path, text))


def test_new_rows_from_a_file(tmp_path, categorical_data):
    spec = LADDER.new_rows_spec("categorical")
    spec["predict"] = {"file": "new.csv"}
    rows = rows_to_predict(spec, categorical_data, write(tmp_path, "D,X\n1,0.5\n0.0,-1\n"))
    assert list(rows.columns) == ["X", "D"] and list(rows["D"]) == ["1", "0"]


@pytest.mark.parametrize(
    ("predict", "message"),
    [
        (
            {"grid": {"frac": {"from": 0, "to": 2, "num": 5}}},
            r"datasets\.logit\.predict\.grid: predictor column 'div' is missing",
        ),
        (
            {"grid": {"frac": [0, 1], "div": [0, 1], "age": [3]}},
            r"datasets\.logit\.predict\.grid: 'age' is not a predictor of any rung",
        ),
        (
            {"holdout": True},
            r"datasets\.logit\.predict\.holdout: datasets\.logit\.source\.params\.holdout must",
        ),
        ({"holdout": True, "grid": {"frac": [1]}}, r"config key datasets\.logit\.predict"),
    ],
)
def test_bad_predict_config_is_named(predict, message):
    config = config_copy()
    config["datasets"]["logit"]["predict"] = predict
    with pytest.raises(ConfigError, match=message):
        Ladder(config)
