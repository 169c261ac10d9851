"""Delayed labels from files: JSON Lines or CSV records of ``request_id``, ``label`` and ``ts``.

``data.labels`` may name one file or a directory of them. Files are tailed like the
prediction log; a record that cannot be parsed is counted and skipped.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from monitor.sources.prediction_log_reader import parse_ts


class LabelFileReader:
    """Keeps the labels seen in the files, newest first out, bounded by ``max_labels``."""

    def __init__(self, path: str | Path, max_labels: int = 200_000):
        self.path = Path(path)
        self.max_labels = max_labels
        self.offsets: dict[str, tuple[int, int]] = {}
        self.headers: dict[str, list[str]] = {}
        self.labels: dict[str, Any] = {}
        self.bad_total = 0

    def _files(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        if self.path.is_dir():
            return sorted(p for p in self.path.iterdir() if p.suffix in (".jsonl", ".csv") and p.is_file())
        return []

    def _parse(self, path: Path, line: str) -> tuple[str, Any] | None:
        if path.suffix == ".csv":
            header = self.headers.get(path.name)
            row = next(csv.reader(io.StringIO(line)))
            if header is None:
                self.headers[path.name] = row
                return None
            record: dict[str, Any] = dict(zip(header, row, strict=False))
        else:
            record = json.loads(line)
        if not isinstance(record, dict) or "request_id" not in record or "label" not in record:
            raise ValueError("expected request_id and label")
        if "ts" in record and record["ts"] not in ("", None):
            parse_ts(record["ts"])
        return str(record["request_id"]), record["label"]

    def read(self) -> dict[str, Any]:
        """Read new records; returns every label currently held, by request id."""
        for path in self._files():
            try:
                stat = path.stat()
                inode, offset = self.offsets.get(path.name, (stat.st_ino, 0))
                if inode != stat.st_ino or stat.st_size < offset:
                    offset = 0
                    self.headers.pop(path.name, None)
                with open(path, "rb") as fh:
                    fh.seek(offset)
                    data = fh.read()
            except OSError:
                continue
            end = data.rfind(b"\n")
            if end < 0:
                continue
            for raw in data[: end + 1].decode("utf-8", errors="replace").splitlines():
                if not raw.strip():
                    continue
                try:
                    item = self._parse(path, raw)
                except (ValueError, TypeError, StopIteration):
                    self.bad_total += 1
                    continue
                if item:
                    self.labels.pop(item[0], None)
                    self.labels[item[0]] = item[1]
            self.offsets[path.name] = (stat.st_ino, offset + end + 1)
        while len(self.labels) > self.max_labels:
            self.labels.pop(next(iter(self.labels)))
        return self.labels
