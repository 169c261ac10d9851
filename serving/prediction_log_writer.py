"""The prediction log of the server contract: append-only JSON Lines, one file per UTC hour.

Files are named ``predictions-YYYY-MM-DDTHH.jsonl`` (the UTC hour of the write) inside the
log directory. Each line is one prediction (one input row, not one request)::

    {"ts": "2026-11-28T20:17:27.123456Z", "request_id": "3f1c...-0", "model": "digits",
     "version": "1", "features": {"f0": 1.0, "f1": 0.0}, "prediction": 3,
     "proba": [0.01, 0.02, 0.9, ...]}

* ``ts`` is RFC 3339 in UTC with microseconds and a ``Z`` suffix: when the server logged it.
* ``request_id`` is unique per row; a label that arrives later names the same id.
* ``features`` maps each feature name of the manifest to the number the model received.
* ``prediction`` is the predicted label (classifier) or value (regressor).
* ``proba`` is present for classifiers only: the class probabilities in the order of the
  manifest's ``classes``. A non-finite probability is written as ``null``.

The lines of one batch are written with one ``write`` call on a file opened for appending,
and flushed at once, so a concurrent reader sees only whole lines except after a crash, when
the last line of a file may be cut short (readers skip a line that does not parse). Lines are
always strict JSON: no ``NaN`` or ``Infinity`` literals.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

FILE_PREFIX = "predictions-"
FILE_SUFFIX = ".jsonl"


@dataclass(frozen=True)
class PredictionEntry:
    """One row's prediction, before the writer stamps it with the time and the model name."""

    request_id: str
    version: str
    features: Mapping[str, float]
    prediction: Any
    proba: Sequence[float] | None = None


def format_ts(epoch_seconds: float) -> str:
    """RFC 3339 UTC with microseconds, e.g. ``2026-11-28T20:17:27.123456Z``."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def log_file_name(epoch_seconds: float) -> str:
    """The name of the hourly file that holds a record written at ``epoch_seconds``."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime(f"{FILE_PREFIX}%Y-%m-%dT%H{FILE_SUFFIX}")


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _json_value(value.item())
    return value


def encode_entry(entry: PredictionEntry, model: str, ts: str) -> str:
    record: dict[str, Any] = {
        "ts": ts,
        "request_id": entry.request_id,
        "model": model,
        "version": entry.version,
        "features": {name: _json_value(v) for name, v in entry.features.items()},
        "prediction": _json_value(entry.prediction),
    }
    if entry.proba is not None:
        record["proba"] = [_json_value(float(p)) for p in entry.proba]
    return json.dumps(record, allow_nan=False, separators=(",", ":")) + "\n"


class PredictionLogWriter:
    """Appends prediction records to hourly JSON Lines files; safe to share between threads.

    ``clock`` returns epoch seconds (``time.time`` by default); it decides both the ``ts`` of
    each record and which hourly file receives it.

    >>> writer = PredictionLogWriter("/tmp/preds", "digits")      # doctest: +SKIP
    >>> writer.write([PredictionEntry("r-0", "1", {"f0": 1.0}, 3)])  # doctest: +SKIP
    """

    def __init__(self, directory: str | Path, model: str, *, clock: Callable[[], float] = time.time):
        self.directory = Path(directory)
        self.model = model
        self._clock = clock
        self._lock = threading.Lock()
        self._file: BinaryIO | None = None
        self._file_name: str | None = None
        self.directory.mkdir(parents=True, exist_ok=True)

    def write(self, entries: Sequence[PredictionEntry]) -> Path | None:
        """Append ``entries`` stamped with one timestamp; returns the file written, if any."""
        if not entries:
            return None
        with self._lock:
            now = self._clock()
            ts = format_ts(now)
            data = "".join(encode_entry(e, self.model, ts) for e in entries).encode()
            name = log_file_name(now)
            handle = self._handle_for(name)
            view = memoryview(data)
            while view:
                # A raw (unbuffered) file issues one write(2) per call; loop only on a short write.
                written = handle.write(view)
                view = view[written:]
            handle.flush()
            return self.directory / name

    def _handle_for(self, name: str) -> BinaryIO:
        if self._file is None or self._file_name != name:
            self._close_locked()
            self._file = open(self.directory / name, "ab", buffering=0)  # noqa: SIM115
            self._file_name = name
        return self._file

    def _close_locked(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file, self._file_name = None, None

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def __enter__(self) -> PredictionLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
