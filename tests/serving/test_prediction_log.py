"""The prediction log: strict JSON lines, whole lines under concurrency, hourly files by the injected clock."""

from __future__ import annotations

import json
import math
import re
import threading
from datetime import UTC, datetime
from pathlib import Path

from serving.prediction_log_writer import PredictionEntry, PredictionLogWriter, format_ts, log_file_name

TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class FakeClock:
    def __init__(self, start: float):
        self.now = start

    def __call__(self) -> float:
        return self.now


def epoch(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def entry(i: int, proba: list[float] | None = None) -> PredictionEntry:
    return PredictionEntry(f"r-{i}", "7", {"f0": float(i), "f1": 0.5}, i % 3, proba)


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_record_format(tmp_path: Path):
    clock = FakeClock(epoch(2026, 11, 28, 20, 17, 27) + 0.123456)
    with PredictionLogWriter(tmp_path, "digits", clock=clock) as writer:
        path = writer.write([entry(1, [0.25, 0.75]), entry(2)])
    assert path == tmp_path / "predictions-2026-11-28T20.jsonl"
    first, second = read_lines(path)
    assert first == {
        "ts": "2026-11-28T20:17:27.123456Z",
        "request_id": "r-1",
        "model": "digits",
        "version": "7",
        "features": {"f0": 1.0, "f1": 0.5},
        "prediction": 1,
        "proba": [0.25, 0.75],
    }
    assert "proba" not in second  # regressors and label-only models carry no proba
    assert second["request_id"] == "r-2"


def test_non_finite_values_are_written_as_null_so_lines_stay_strict_json(tmp_path: Path):
    with PredictionLogWriter(tmp_path, "m") as writer:
        path = writer.write([PredictionEntry("r", "1", {"f0": math.inf}, math.nan, [math.nan, 1.0])])
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    record = json.loads(text)
    assert record["features"] == {"f0": None}
    assert record["prediction"] is None
    assert record["proba"] == [None, 1.0]


def test_numpy_scalars_are_written_as_plain_numbers(tmp_path: Path):
    import numpy as np

    with PredictionLogWriter(tmp_path, "m") as writer:
        path = writer.write(
            [PredictionEntry("r", "1", {"f0": np.float32(0.5)}, np.int64(4), np.array([0.5, 0.5]))]
        )
    record = json.loads(path.read_text())
    assert record["prediction"] == 4 and record["features"]["f0"] == 0.5 and record["proba"] == [0.5, 0.5]


def test_rotates_by_utc_hour(tmp_path: Path):
    clock = FakeClock(epoch(2026, 1, 31, 23, 59, 59))
    with PredictionLogWriter(tmp_path, "m", clock=clock) as writer:
        writer.write([entry(0)])
        clock.now += 0.5
        writer.write([entry(1)])
        clock.now += 1.0  # crosses midnight and the month
        writer.write([entry(2), entry(3)])
        clock.now += 3600
        writer.write([entry(4)])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "predictions-2026-01-31T23.jsonl",
        "predictions-2026-02-01T00.jsonl",
        "predictions-2026-02-01T01.jsonl",
    ]
    ids = [[r["request_id"] for r in read_lines(tmp_path / name)] for name in names]
    assert ids == [["r-0", "r-1"], ["r-2", "r-3"], ["r-4"]]
    assert read_lines(tmp_path / names[1])[0]["ts"].startswith("2026-02-01T00:00:00.")


def test_appends_to_an_existing_hour_file(tmp_path: Path):
    clock = FakeClock(epoch(2026, 5, 5, 5))
    with PredictionLogWriter(tmp_path, "m", clock=clock) as writer:
        writer.write([entry(0)])
    with PredictionLogWriter(tmp_path, "m", clock=clock) as writer:
        writer.write([entry(1)])
    assert [r["request_id"] for r in read_lines(tmp_path / log_file_name(clock.now))] == ["r-0", "r-1"]


def test_concurrent_writers_never_interleave_lines(tmp_path: Path):
    threads, batches, per_batch = 8, 40, 25
    big_proba = [1.0 / 64] * 64  # long lines make torn writes likely if they were possible
    with PredictionLogWriter(tmp_path, "m") as writer:

        def work(t: int) -> None:
            for b in range(batches):
                writer.write(
                    [PredictionEntry(f"{t}-{b}-{k}", "1", {"x": 1.0}, k, big_proba) for k in range(per_batch)]
                )

        pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for th in pool:
            th.start()
        for th in pool:
            th.join(60)
    records = [r for path in tmp_path.iterdir() for r in read_lines(path)]
    assert len(records) == threads * batches * per_batch
    assert len({r["request_id"] for r in records}) == len(records)
    assert all(TS_RE.match(r["ts"]) for r in records)


def test_format_ts_and_file_name_are_utc():
    t = epoch(2026, 3, 9, 4, 5, 6) + 0.000007
    assert format_ts(t) == "2026-03-09T04:05:06.000007Z"
    assert log_file_name(t) == "predictions-2026-03-09T04.jsonl"


def test_empty_write_creates_no_file(tmp_path: Path):
    with PredictionLogWriter(tmp_path / "new", "m") as writer:
        assert writer.write([]) is None
    assert list((tmp_path / "new").iterdir()) == []
