"""Data quality of a window read from a real log file, counted by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from monitor.check.quality import window_quality
from monitor.drift.reference_stats import build_reference_stats
from monitor.sources.prediction_log_reader import PredictionLogReader

T0 = 1_764_360_000.0


def _record(i: int, features: dict, **extra) -> str:
    base = {
        "ts": T0 + i,
        "request_id": f"r{i}",
        "model": "m",
        "version": "1",
        "features": features,
        "prediction": 0,
    }
    return json.dumps(base | extra) + "\n"


def test_every_quality_measurement_counts_what_was_sent(tmp_path: Path) -> None:
    reference = {
        "x": np.linspace(0.0, 10.0, 200),
        "rooms": np.tile(np.arange(1, 5), 50),  # few integers: categorical
        "city": np.array(["paris", "lyon"] * 100, dtype=object),
    }
    stats = build_reference_stats(reference, categorical=["city"])
    lines = [
        _record(0, {"x": 1.0, "rooms": 2, "city": "paris"}),
        _record(1, {"x": 11.0, "rooms": 7, "city": "nice"}),  # out of range, unseen, unseen
        _record(2, {"x": None, "rooms": 3, "city": None}),  # two gaps
        _record(3, {"rooms": 3, "city": "lyon", "zip": "x"}),  # x missing, zip extra
        _record(4, {"x": "ten", "rooms": 1, "city": "lyon"}),  # wrong type
        '{"ts": %r, "request_id": "r5", "model": "m", "features": {"x": NaN, "rooms": 4, "city": "lyon"}, "prediction": 0}\n'
        % (T0 + 5),
        '{"ts": %r, "request_id": "r6", "model": "m", "features": {"x": -Infinity, "rooms": 4, "city": "lyon"}, "prediction": 0}\n'
        % (T0 + 6),
        "{broken\n",
    ]
    (tmp_path / "predictions-2025-11-28T20.jsonl").write_text("".join(lines))
    reader = PredictionLogReader(tmp_path, "m", ("x", "rooms", "city"), categorical={"city"})
    window = reader.window(T0 - 1, T0 + 10)
    report = window_quality(window, stats, ("x", "rooms", "city"))
    v = report.values
    assert window.rows == 7 and v["bad_log_lines"] == 1
    # x: None, absent, "ten", NaN, -inf are unusable; city: one None.
    assert v["missing_ratio"] == pytest.approx(6 / 21)
    assert v["nan_values"] == 1 and v["inf_values"] == 1
    assert v["out_of_range_ratio"] == pytest.approx(1 / 2)  # x's finite values: 1.0 and 11.0
    # rooms (7 of 7 values, one unseen) and city (6 non-missing, "nice" unseen)
    assert v["unseen_category_ratio"] == pytest.approx(2 / 13)
    assert v["schema_errors"] == 3
    assert report.details["schema"] == {
        "missing_columns": ["x"], "extra_columns": ["zip"], "wrong_type_columns": ["x"]
    }  # fmt: skip
    assert report.details["unseen_categories"] == {"rooms": ["7.0"], "city": ["nice"]}


def test_an_empty_window_has_unknown_quality(tmp_path: Path) -> None:
    stats = build_reference_stats({"x": np.arange(10.0)})
    window = PredictionLogReader(tmp_path / "none", "m", ("x",)).window(0, 1)
    v = window_quality(window, stats, ("x",)).values
    assert all(
        v[k] is None for k in ("missing_ratio", "nan_values", "out_of_range_ratio", "unseen_category_ratio")
    )
    assert v["schema_errors"] == 0 and not math.isnan(v["bad_log_lines"])
