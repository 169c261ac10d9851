"""The prediction log is read a block at a time: a runaway line is counted bad, never held whole."""

from __future__ import annotations

import json
import time
import tracemalloc

from monitor.sources.prediction_log_reader import MAX_LINE_BYTES, READ_BLOCK_BYTES, PredictionLogReader
from serving.prediction_log_writer import format_ts, log_file_name


def record(i: int, now: float) -> str:
    return json.dumps({"ts": format_ts(now - 60 + i), "request_id": f"r{i}", "model": "m", "version": "1",
                       "features": {"a": float(i)}, "prediction": 1})  # fmt: skip


def test_an_overlong_line_is_one_bad_line_and_memory_stays_bounded(tmp_path) -> None:
    now = time.time()
    path = tmp_path / log_file_name(now)
    huge = 12 * READ_BLOCK_BYTES  # spans many blocks
    with open(path, "w") as fh:
        fh.write(record(1, now) + "\n")
        fh.write('{"ts": "' + "x" * huge + '"}\n')
        fh.write(record(2, now) + "\n")
        fh.write('{"garbage": "' + "y" * (MAX_LINE_BYTES + 10) + '"}\n')  # overlong within one block
        fh.write(record(3, now) + "\n")
    reader = PredictionLogReader(tmp_path, "m", ("a",))
    tracemalloc.start()
    window = reader.window(now - 600, now)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert window.rows == 3 and list(window.request_ids) == ["r1", "r2", "r3"]
    assert window.bad_lines == 2
    assert peak < 4 * READ_BLOCK_BYTES, (
        f"peak {peak / 2**20:.0f} MiB while reading a {huge / 2**20:.0f} MiB line"
    )


def test_a_line_still_being_written_is_read_once_it_ends(tmp_path) -> None:
    now = time.time()
    path = tmp_path / log_file_name(now)
    whole = record(2, now)
    path.write_text(record(1, now) + "\n" + whole[:30])
    reader = PredictionLogReader(tmp_path, "m", ("a",))
    assert reader.window(now - 600, now).rows == 1
    with open(path, "a") as fh:
        fh.write(whole[30:] + "\n")
    window = reader.window(now - 600, now)
    assert window.rows == 2 and window.bad_lines == 0
