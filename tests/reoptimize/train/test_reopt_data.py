from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reoptimize.train.tables import (
    DataError,
    load_table,
    split_holdout,
    split_recent,
    validate_training_frame,
)


def frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    df["label"] = np.arange(n) % 3
    df["request_id"] = [f"req-{i}" for i in range(n)]
    return df


def test_load_table_reads_parquet_and_csv(tmp_path):
    df = frame(20)
    df.to_parquet(tmp_path / "t.parquet")
    df.to_csv(tmp_path / "t.csv", index=False)
    pd.testing.assert_frame_equal(load_table(tmp_path / "t.parquet"), df)
    assert load_table(tmp_path / "t.csv")["a"].tolist() == pytest.approx(df["a"].tolist())


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.parquet", None, "file not found"),
        ("table.xlsx", b"x", "unsupported file type"),
        ("broken.parquet", b"not parquet at all", "cannot read it as Parquet"),
    ],
)
def test_load_table_errors_name_the_file(tmp_path, name, content, expected):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=expected) as info:
        load_table(path)
    assert name in str(info.value)


def test_split_holdout_is_deterministic_disjoint_and_complete():
    df = frame(1000)
    train, holdout = split_holdout(df, 0.2, seed=7)
    train2, holdout2 = split_holdout(df.sample(frac=1.0, random_state=3), 0.2, seed=7)
    assert set(holdout.index) == set(holdout2.index)
    assert set(train.index) == set(train2.index)
    assert not set(train.index) & set(holdout.index)
    assert set(train.index) | set(holdout.index) == set(df.index)
    assert 150 < len(holdout) < 250
    _, other = split_holdout(df, 0.2, seed=8)
    assert set(other.index) != set(holdout.index)


def test_split_holdout_keeps_a_row_on_each_side_of_a_tiny_frame():
    train, holdout = split_holdout(frame(2), 0.01)
    assert len(train) == 1 and len(holdout) == 1


def test_split_recent_follows_request_ids_not_positions():
    df = frame(600)
    train, evaluation = split_recent(df, eval_fraction=0.3)
    shuffled_train, shuffled_eval = split_recent(df.sample(frac=1.0, random_state=1).reset_index(drop=True))
    assert set(evaluation["request_id"]) == set(shuffled_eval["request_id"])
    assert not set(train["request_id"]) & set(evaluation["request_id"])
    assert len(train) + len(evaluation) == len(df)
    assert 120 < len(evaluation) < 240
    with pytest.raises(DataError, match="'request_id' is missing"):
        split_recent(df.drop(columns="request_id"))


def _corrupt(kind: str) -> tuple[pd.DataFrame, str]:
    df = frame(50)
    if kind == "missing":
        return df.drop(columns="b"), "missing: b"
    if kind == "text":
        df["b"] = "x"
        return df, "'b' has dtype object"
    if kind == "nan":
        df.loc[[3, 9], "a"] = np.nan
        return df, "'a' has 2 NaN/inf value\\(s\\) \\(first at row 3\\)"
    if kind == "inf":
        df.loc[5, "b"] = np.inf
        return df, "'b' has 1 NaN/inf"
    if kind == "single":
        df["label"] = 1
        return df, "single class \\(1\\)"
    if kind == "no-label":
        df.loc[4, "label"] = None
        return df, "missing in 1 row\\(s\\) \\(first at row 4\\)"
    if kind == "empty":
        return df.iloc[0:0], "no rows"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["missing", "text", "nan", "inf", "single", "no-label", "empty"])
def test_validate_training_frame_names_the_problem(kind):
    df, message = _corrupt(kind)
    with pytest.raises(DataError, match=message):
        validate_training_frame(df, ("a", "b"), "label", "classification")


def test_validate_training_frame_rejects_unknown_labels_and_text_regression_targets():
    df = frame(30)
    with pytest.raises(DataError, match="unknown class\\(es\\) 2"):
        validate_training_frame(df, ("a", "b"), "label", "classification", classes=[0, 1])
    validate_training_frame(df, ("a", "b"), "label", "classification", classes=[0, 1, 2])
    df["label"] = df["label"].astype(str)
    with pytest.raises(DataError, match="needs numeric labels"):
        validate_training_frame(df, ("a", "b"), "label", "regression")
    with pytest.raises(DataError, match="task 'ranking'"):
        validate_training_frame(df, ("a", "b"), "label", "ranking")


def test_time_range_reads_text_and_unix_seconds():
    from reoptimize.train.tables import time_range

    text = pd.DataFrame({"ts": ["2026-03-01T10:00:00Z", "2026-03-01T09:00:00Z"]})
    seconds = pd.DataFrame({"ts": [1772355600.0, 1772359200.0]})  # 2026-03-01 09:00 and 10:00 UTC
    expected = {"rows": 2, "start": "2026-03-01T09:00:00+00:00", "end": "2026-03-01T10:00:00+00:00"}
    assert time_range(text) == expected
    assert time_range(seconds) == expected
    assert time_range(pd.DataFrame({"a": [1]})) == {"rows": 1}
