"""The prediction-log reader on real files: incremental, tolerant of bad lines, windowed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from monitor.sources.prediction_log_reader import PredictionLogReader

T0 = 1_764_360_000.0  # 2025-11-28T20:00:00Z


def _line(ts: float, rid: str, feats: dict, pred=1, proba=(0.2, 0.8), model="m", version="1") -> str:
    from datetime import UTC, datetime

    stamp = datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(
        {"ts": stamp, "request_id": rid, "model": model, "version": version, "features": feats,
         "prediction": pred, "proba": list(proba)}
    ) + "\n"  # fmt: skip


def test_reads_incrementally_and_windows(tmp_path: Path) -> None:
    log = tmp_path / "predictions-2025-11-28T20.jsonl"
    log.write_text("".join(_line(T0 + i, f"r{i}", {"a": i, "b": 2 * i}) for i in range(10)))
    reader = PredictionLogReader(tmp_path, "m", ("a", "b"))
    w = reader.window(T0, T0 + 9)
    assert w.rows == 10 and list(w.columns["a"]) == list(range(10))
    assert np.allclose(w.confidence, 0.8)
    # append more, including a partial line the writer has not finished yet
    with open(log, "a") as fh:
        fh.write(_line(T0 + 10, "r10", {"a": 10, "b": 20}))
        fh.write(_line(T0 + 11, "r11", {"a": 11, "b": 22})[:-20])
    w = reader.window(T0 + 5, T0 + 11)
    assert list(w.request_ids) == [f"r{i}" for i in range(5, 11)]
    with open(log, "a") as fh:
        fh.write(_line(T0 + 11, "r11", {"a": 11, "b": 22})[-20:])
    # a line is only read once its newline is written, so the finished line arrives whole
    assert reader.window(T0 + 5, T0 + 11).rows == 7
    assert reader.bad_total == 0


def test_bad_lines_schema_problems_and_other_models(tmp_path: Path) -> None:
    log = tmp_path / "predictions-2025-11-28T20.jsonl"
    log.write_text(
        _line(T0, "ok", {"a": 1, "b": 2})
        + "{not json\n"
        + json.dumps({"ts": "yesterday", "request_id": "x", "features": {}, "prediction": 1}) + "\n"
        + _line(T0 + 1, "missing-b", {"a": 1})
        + _line(T0 + 2, "extra-c", {"a": 1, "b": 2, "c": 3})
        + _line(T0 + 3, "wrong-type", {"a": "high", "b": 2})
        + _line(T0 + 4, "other", {"a": 1, "b": 2}, model="someone-else")
        + "[1, 2]\n"
    )  # fmt: skip
    w = PredictionLogReader(tmp_path, "m", ("a", "b")).window(T0 - 1, T0 + 10)
    assert list(w.request_ids) == ["ok", "missing-b", "extra-c", "wrong-type"]
    assert w.bad_lines == 3
    assert w.missing_columns == {"b"} and w.extra_columns == {"c"} and w.wrong_type_columns == {"a"}
    assert w.schema_errors == 3
    assert np.isnan(w.columns["b"][1]) and np.isnan(w.columns["a"][3])


def test_truncated_file_is_read_again_and_old_hours_skipped(tmp_path: Path) -> None:
    old = tmp_path / "predictions-2025-11-27T10.jsonl"
    old.write_text(_line(T0 - 86400, "old", {"a": 0}))
    log = tmp_path / "predictions-2025-11-28T20.jsonl"
    log.write_text(_line(T0, "a1", {"a": 1}) + _line(T0 + 1, "a2", {"a": 2}))
    reader = PredictionLogReader(tmp_path, "m", ("a",))
    assert list(reader.window(T0 - 10, T0 + 10).request_ids) == ["a1", "a2"]
    log.write_text(_line(T0 + 2, "b1", {"a": 3}))  # rewritten shorter: a new file
    assert list(reader.window(T0 - 10, T0 + 10).request_ids) == ["a1", "a2", "b1"]


def test_categorical_columns_keep_strings(tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text(
        _line(T0, "r", {"city": "Oslo", "n": 1}) + _line(T0, "s", {"city": 7, "n": 2})
    )
    w = PredictionLogReader(tmp_path, "m", ("city", "n"), categorical={"city"}).window(T0 - 1, T0 + 1)
    assert list(w.columns["city"]) == ["Oslo", "7"]
    # whole numbers stay integers (few distinct integers are categories to a drift test)
    assert w.columns["n"].dtype == np.int64 and w.predictions.dtype == np.int64


def test_floats_or_gaps_make_a_float_column(tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text(
        _line(T0, "r", {"a": 1, "b": 1.5, "c": 1}) + _line(T0, "s", {"a": 2, "b": 2, "c": None}, pred=0.5)
    )
    w = PredictionLogReader(tmp_path, "m", ("a", "b", "c")).window(T0 - 1, T0 + 1)
    assert w.columns["a"].dtype == np.int64
    assert w.columns["b"].dtype == np.float64 and w.columns["c"].dtype == np.float64
    assert np.isnan(w.columns["c"][1]) and w.predictions.dtype == np.float64
