"""Reading a model's prediction log incrementally into NumPy column chunks.

The log is append-only JSON Lines (one file per hour) or Parquet, one record per prediction:
``ts`` (RFC 3339 UTC), ``request_id``, ``model``, ``version``, ``features`` (object),
``prediction`` and optional ``proba``. Only new bytes are parsed on each read; rows older
than the window are dropped. A line that cannot be parsed is counted and skipped.
"""

from __future__ import annotations

import json
import math
import re
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

_HOURLY = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2})")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
CHUNK_ROWS = 1024
# The log is read a block at a time, and a line longer than MAX_LINE_BYTES is counted bad
# without being held: a runaway writer must not take the daemon's memory with it.
READ_BLOCK_BYTES = 4 << 20
MAX_LINE_BYTES = 1 << 20
# What a malformed record can raise while it is parsed; such a line is counted and skipped.
_BAD_RECORD = (ValueError, KeyError, TypeError, OverflowError, RecursionError)


def parse_ts(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        stamp = datetime.fromisoformat(value)
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return stamp.timestamp()
    raise ValueError(f"ts {value!r} is not an RFC 3339 time")


@dataclass
class _Chunk:
    at: np.ndarray
    request_ids: np.ndarray
    versions: np.ndarray
    columns: dict[str, np.ndarray]
    predictions: np.ndarray
    confidence: np.ndarray
    null_mask: np.ndarray | None = None  # [rows, features]: absent, null or wrongly typed values
    missing_columns: set[str] = field(default_factory=set)
    extra_columns: set[str] = field(default_factory=set)
    wrong_type_columns: set[str] = field(default_factory=set)

    def keep(self, rows: np.ndarray) -> _Chunk:
        """A copy holding only ``rows`` (a boolean mask), with the same schema findings."""
        return _Chunk(
            at=self.at[rows],
            request_ids=self.request_ids[rows],
            versions=self.versions[rows],
            columns={name: values[rows] for name, values in self.columns.items()},
            predictions=self.predictions[rows],
            confidence=self.confidence[rows],
            null_mask=self.null_mask[rows] if self.null_mask is not None else None,
            missing_columns=self.missing_columns,
            extra_columns=self.extra_columns,
            wrong_type_columns=self.wrong_type_columns,
        )


@dataclass(frozen=True)
class PredictionWindow:
    """The rows of one check window, column by column.

    Numeric feature columns hold NaN where a value was absent, null or of the wrong type;
    ``null_counts`` says how many of a column's NaNs are such gaps, so a NaN the server really
    received can be told apart. Categorical columns hold ``None`` for a gap.
    """

    at: np.ndarray
    request_ids: np.ndarray
    versions: np.ndarray
    columns: dict[str, np.ndarray]
    predictions: np.ndarray
    confidence: np.ndarray
    bad_lines: int = 0
    null_counts: Mapping[str, int] = field(default_factory=dict)
    missing_columns: frozenset[str] = frozenset()
    extra_columns: frozenset[str] = frozenset()
    wrong_type_columns: frozenset[str] = frozenset()

    @property
    def rows(self) -> int:
        return len(self.at)

    @property
    def schema_errors(self) -> int:
        return len(self.missing_columns) + len(self.extra_columns) + len(self.wrong_type_columns)


def _compact(values: np.ndarray) -> np.ndarray:
    """Keep a column in float32 (or int32) when that loses nothing, as values a float32 model got do.

    Chunks stay in memory for a whole window, for every model: half the bytes is what lets one
    daemon hold hundreds of windows. Exactness is checked, so no value ever changes.
    """
    if values.dtype == np.float64:
        with np.errstate(over="ignore"):  # a value beyond float32 becomes inf and fails the check below
            narrow = values.astype(np.float32)
        if np.array_equal(narrow.astype(np.float64), values, equal_nan=True):
            return narrow
    elif values.dtype == np.int64 and values.size and values.min() >= -(2**31) and values.max() < 2**31:
        return values.astype(np.int32)
    return values


def _object_array(values: list[Any]) -> np.ndarray:
    """A 1-D object array even when the values are equal-length lists (np.array would go 2-D)."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out


def _widen(values: np.ndarray) -> np.ndarray:
    """Undo :func:`_compact` for the window a check works on (float64 and int64, as always)."""
    if values.dtype == np.float32:
        return values.astype(np.float64)
    if values.dtype == np.int32:
        return values.astype(np.int64)
    return values


class _ChunkBuilder:
    def __init__(self, features: Sequence[str], categorical: Collection[str]):
        self.features = list(features)
        self.index = {f: i for i, f in enumerate(self.features)}
        self.categorical = set(categorical)
        self.clear()

    def clear(self) -> None:
        """Forget the rows added so far (they were built into a chunk); schema findings restart too."""
        self.at: list[float] = []
        self.ids: list[str] = []
        self.versions: list[str] = []
        self.values: list[list[Any]] = []
        self.preds: list[Any] = []
        self.conf: list[float] = []
        self.missing: set[str] = set()
        self.extra: set[str] = set()
        self.wrong: set[str] = set()
        self.not_int: set[int] = set()  # columns that held a float or a gap: they cannot stay integers
        self.gaps: list[tuple[int, int]] = []  # (row, column) of absent, null or wrongly typed values

    def add(self, record: dict[str, Any]) -> None:
        """Add one record, or raise (ValueError, KeyError, TypeError) leaving the builder unchanged."""
        at = parse_ts(record["ts"])
        feats = record["features"]
        if not isinstance(feats, dict):
            raise ValueError("features is not an object")
        prediction = record["prediction"]
        request_id = str(record["request_id"])
        version = str(record.get("version", ""))
        row: list[Any] = [math.nan] * len(self.features)
        present = [False] * len(self.features)
        for key, value in feats.items():
            i = self.index.get(key)
            if i is None:
                self.extra.add(key)
            elif key in self.categorical:
                row[i] = None if value is None else str(value)
                present[i] = value is not None
            elif isinstance(value, float) or type(value) is int and _INT64_MIN <= value <= _INT64_MAX:
                row[i] = value
                present[i] = True
            elif type(value) is int:
                row[i] = float(value) if abs(value) < 2**1023 else math.copysign(math.inf, value)
                present[i] = True
            elif value is not None:
                self.wrong.add(key)
        if len(feats) - len(self.extra.intersection(feats)) < len(self.features):
            self.missing.update(f for f in self.features if f not in feats)
        proba = record.get("proba")
        conf = math.nan
        if isinstance(proba, list) and proba and all(isinstance(p, float | int) for p in proba):
            try:
                conf = float(max(proba))
            except OverflowError:
                conf = math.inf
        if not all(present):
            self.gaps.extend((len(self.at), i) for i, ok in enumerate(present) if not ok)
        self.not_int.update(i for i, v in enumerate(row) if not isinstance(v, int))
        self.at.append(at)
        self.ids.append(request_id)
        self.versions.append(version)
        self.values.append(row)
        self.preds.append(prediction)
        self.conf.append(conf)

    def build(self) -> _Chunk | None:
        if not self.at:
            return None
        columns: dict[str, np.ndarray] = {}
        for i, name in enumerate(self.features):
            col = [r[i] for r in self.values]
            if name in self.categorical:
                columns[name] = np.array(col, dtype=object)
            else:
                # Integer columns stay integers: drift tests treat few distinct integers as categories.
                columns[name] = _compact(np.array(col, dtype=np.float64 if i in self.not_int else np.int64))
        preds = _object_array(self.preds)
        try:
            if all(isinstance(p, int) and not isinstance(p, bool) for p in self.preds):
                preds = np.array(self.preds, dtype=np.int64)
            elif all(isinstance(p, int | float) and not isinstance(p, bool) for p in self.preds):
                preds = np.array(self.preds, dtype=np.float64)
        except OverflowError:
            pass  # integers beyond int64/float64 stay Python objects
        null_mask = None
        if self.gaps:
            null_mask = np.zeros((len(self.at), len(self.features)), dtype=bool)
            rows, cols = zip(*self.gaps, strict=True)
            null_mask[list(rows), list(cols)] = True
        return _Chunk(
            at=np.array(self.at, dtype=np.float64),
            request_ids=np.array([rid.encode("utf-8", "surrogatepass") for rid in self.ids], dtype=bytes),
            versions=np.array(self.versions, dtype=str),  # a short fixed-width array, not str objects
            columns=columns,
            predictions=_compact(preds),
            confidence=np.array(self.conf, dtype=np.float32),  # a probability: float32 is plenty
            null_mask=null_mask,
            missing_columns=self.missing,
            extra_columns=self.extra,
            wrong_type_columns=self.wrong,
        )


class PredictionLogReader:
    """Tails every log file of one model; call :meth:`window` once per check."""

    def __init__(
        self, directory: str | Path, model: str, features: Sequence[str], categorical: Collection[str] = ()
    ):
        self.directory = Path(directory)
        self.model = model
        self.features = tuple(features)
        self.categorical = frozenset(categorical)
        self.offsets: dict[str, tuple[int, int]] = {}  # name -> (inode, offset)
        self.chunks: deque[_Chunk] = deque()
        self.bad: deque[float] = deque()
        self.bad_total = 0

    def _files(self) -> list[Path]:
        try:
            entries = sorted(self.directory.iterdir())
        except FileNotFoundError:
            return []
        return [p for p in entries if p.suffix in (".jsonl", ".parquet") and p.is_file()]

    def _skip_old(self, path: Path, start: float) -> bool:
        match = _HOURLY.search(path.name)
        if not match:
            return False
        try:
            hour = datetime.strptime(match.group(1), "%Y-%m-%dT%H").replace(tzinfo=UTC).timestamp()
        except ValueError:
            return False
        return hour + 3600 < start

    def _read_new(self, path: Path, start: float, now: float, builder: _ChunkBuilder) -> None:
        stat = path.stat()
        inode, offset = self.offsets.get(path.name, (stat.st_ino, -1))
        if offset < 0 and self._skip_old(path, start):
            self.offsets[path.name] = (stat.st_ino, stat.st_size)
            return
        if inode != stat.st_ino or stat.st_size < max(offset, 0):
            offset = -1  # replaced or truncated: read it again from the start
        offset = max(offset, 0)
        if path.suffix == ".parquet":
            if offset == 0:
                self._read_parquet(path, builder, now)
            self.offsets[path.name] = (stat.st_ino, stat.st_size)
            return
        with open(path, "rb") as fh:
            fh.seek(offset)
            consumed = self._read_lines(fh, offset, builder, now)
        self.offsets[path.name] = (stat.st_ino, consumed)

    def _read_lines(self, fh: Any, offset: int, builder: _ChunkBuilder, now: float) -> int:
        """Parse the complete lines after ``offset``; returns where the first incomplete one starts."""
        consumed, pending, skipping = offset, b"", False
        while block := fh.read(READ_BLOCK_BYTES):
            if skipping:  # inside an overlong line: drop it up to its newline
                newline = block.find(b"\n")
                consumed += len(block) if newline < 0 else newline + 1
                if newline < 0:
                    continue
                block, skipping = block[newline + 1 :], False
            data = pending + block
            end = data.rfind(b"\n")
            if end >= 0:
                for line in data[:end].split(b"\n"):  # JSON Lines ends records with \n only
                    if len(line) > MAX_LINE_BYTES:
                        self._count_bad(now)
                    elif line.strip():
                        self._parse_line(line, builder, now)
                        self._flush_full(builder)
                consumed += end + 1
                data = data[end + 1 :]
            pending = data
            if len(pending) > MAX_LINE_BYTES:
                self._count_bad(now)
                consumed, pending, skipping = consumed + len(pending), b"", True
        return consumed

    def _count_bad(self, now: float) -> None:
        self.bad.append(now)
        self.bad_total += 1

    def _parse_line(self, line: bytes, builder: _ChunkBuilder, now: float) -> None:
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not an object")
            if record.get("model", self.model) != self.model:
                return
            builder.add(record)
        except _BAD_RECORD:
            self.bad.append(now)
            self.bad_total += 1

    def _read_parquet(self, path: Path, builder: _ChunkBuilder, now: float) -> None:
        import pyarrow.parquet as pq

        try:
            records = pq.read_table(path).to_pylist()
        except Exception:  # pyarrow raises many types for a broken file
            self.bad.append(now)
            self.bad_total += 1
            return
        for record in records:
            if "features" not in record:
                record = dict(record, features={f: record.get(f) for f in self.features if f in record})
            try:
                if hasattr(record.get("ts"), "timestamp"):
                    record["ts"] = record["ts"].timestamp()
                if record.get("model", self.model) == self.model:
                    builder.add(record)
                    self._flush_full(builder)
            except _BAD_RECORD:
                self.bad.append(now)
                self.bad_total += 1

    def _flush_full(self, builder: _ChunkBuilder) -> None:
        # A backlog becomes chunks of CHUNK_ROWS: its parsed Python objects never pile up at once.
        if len(builder.at) >= CHUNK_ROWS:
            chunk = builder.build()
            if chunk is not None:  # never None here: the builder holds CHUNK_ROWS rows
                self.chunks.append(chunk)
            builder.clear()

    def window(self, start: float, end: float) -> PredictionWindow:
        builder = _ChunkBuilder(self.features, self.categorical)
        for path in self._files():
            try:
                self._read_new(path, start, end, builder)
            except OSError:
                continue
        chunk = builder.build()
        if chunk is not None:
            self.chunks.append(chunk)
        self._forget_before(start)
        while self.bad and self.bad[0] < start:
            self.bad.popleft()
        return self._assemble(start, end)

    def _forget_before(self, start: float) -> None:
        """Drop rows older than ``start``: windows only move forward, and memory holds one window."""
        kept: deque[_Chunk] = deque()
        for chunk in self.chunks:
            recent = chunk.at >= start
            if recent.all():
                kept.append(chunk)
            elif recent.any():
                kept.append(chunk.keep(recent))
        self.chunks = kept

    def _assemble(self, start: float, end: float) -> PredictionWindow:
        parts = [(c, (c.at >= start) & (c.at <= end)) for c in self.chunks]
        parts = [(c, m) for c, m in parts if m.any()]

        def cat(get: Callable[[_Chunk], np.ndarray], dtype: npt.DTypeLike) -> np.ndarray:
            arrays = [get(c)[m] for c, m in parts]
            return np.concatenate(arrays) if arrays else np.array([], dtype=dtype)

        def column(name: str) -> Callable[[_Chunk], np.ndarray]:
            return lambda c: c.columns[name]

        columns = {
            f: _widen(cat(column(f), object if f in self.categorical else np.float64)) for f in self.features
        }
        null_counts = dict.fromkeys(self.features, 0)
        for c, m in parts:
            if c.null_mask is not None:
                for i, count in enumerate(c.null_mask[m].sum(axis=0).tolist()):
                    null_counts[self.features[i]] += count
        preds = _widen(cat(lambda c: c.predictions, object))
        if preds.dtype == object and len(preds) and all(isinstance(p, int | float) for p in preds):
            preds = preds.astype(np.float64)
        return PredictionWindow(
            at=cat(lambda c: c.at, np.float64),
            request_ids=np.array(
                [
                    rid.decode("utf-8", "surrogatepass")
                    for rid in cat(lambda c: c.request_ids, bytes).tolist()
                ],
                dtype=object,
            ),
            versions=cat(lambda c: c.versions, str),
            columns=columns,
            predictions=preds,
            confidence=cat(lambda c: c.confidence, np.float32).astype(np.float64),
            bad_lines=len(self.bad),
            null_counts=null_counts,
            missing_columns=frozenset().union(*(c.missing_columns for c, _ in parts)),
            extra_columns=frozenset().union(*(c.extra_columns for c, _ in parts)),
            wrong_type_columns=frozenset().union(*(c.wrong_type_columns for c, _ in parts)),
        )
