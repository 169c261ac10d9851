"""Fuzzing the prediction-log reader: whatever a log holds, a check reports it and never crashes."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from monitor.check.quality import window_quality
from monitor.drift.detect import detect_drift
from monitor.drift.reference_stats import build_reference_stats
from monitor.sources.prediction_log_reader import PredictionLogReader

T0 = 1_764_360_000.0
FEATURES = ("x", "n", "city")
STATS = build_reference_stats(
    {
        "x": np.linspace(-1, 1, 300),
        "n": np.tile(np.arange(4), 75),
        "city": np.array(["a", "b", "c"] * 100, dtype=object),
    },
    categorical=["city"],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)
timestamps = st.one_of(
    st.floats(min_value=T0 - 5, max_value=T0 + 60),
    st.just("2025-11-28T20:00:30Z"),
    st.text(max_size=12),
    json_values,
)
features = st.dictionaries(st.sampled_from(["x", "n", "city", "extra", ""]), json_values, max_size=5)
records = st.fixed_dictionaries(
    {},
    optional={
        "ts": timestamps,
        "request_id": json_values,
        "model": st.sampled_from(["m", "other", 3]),
        "version": json_values,
        "features": st.one_of(features, json_values),
        "prediction": json_values,
        "proba": st.one_of(
            st.lists(st.floats() | st.integers(min_value=-(2**70), max_value=2**70), max_size=3), json_values
        ),
    },
)
# Well-formed envelopes around arbitrary feature values, so windows with rows are common.
good_records = st.fixed_dictionaries(
    {
        "ts": st.floats(min_value=T0 - 5, max_value=T0 + 60),
        "request_id": st.text(max_size=4),
        "model": st.just("m"),
        "features": features,
        "prediction": scalars,
    },
    optional={
        "proba": st.lists(st.floats(0, 1), min_size=1, max_size=3),
        "version": st.sampled_from(["1", "2"]),
    },
)
lines = st.one_of(
    good_records.map(lambda r: json.dumps(r)),
    good_records.map(lambda r: json.dumps(r)),
    records.map(lambda r: json.dumps(r)),
    json_values.map(lambda v: json.dumps(v)),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
    st.just("[" * 5000),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, max_size=25), st.lists(lines, max_size=10))
def test_any_log_content_gives_a_consistent_window(first: list[str], second: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "predictions-2025-11-28T20.jsonl"
        reader = PredictionLogReader(tmp, "m", FEATURES, categorical={"city"})
        for batch in (first, second):  # two reads: the second is incremental
            with open(log, "a", encoding="utf-8", errors="surrogateescape") as fh:
                fh.write("".join(line.replace("\n", " ") + "\n" for line in batch))
            window = reader.window(T0 - 10, T0 + 100)
            n = window.rows
            for array in (window.request_ids, window.versions, window.predictions, window.confidence):
                assert len(array) == n
            assert all(len(window.columns[f]) == n for f in FEATURES)
            assert all(0 <= window.null_counts[f] <= n for f in FEATURES)
            values = window_quality(window, STATS, FEATURES).values
            for name in ("missing_ratio", "out_of_range_ratio", "unseen_category_ratio"):
                assert values[name] is None or 0.0 <= values[name] <= 1.0
            assert values["bad_log_lines"] <= len(first) + len(second)
            event(f"rows>0: {n > 0}")
            if n:
                columns = dict(window.columns, _prediction=window.predictions)
                detect_drift(STATS, columns)  # per-column failures become verdicts, never exceptions
