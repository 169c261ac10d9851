"""Where the traffic replay delivers its delayed labels: the daemon's API or a JSON Lines file.

A label is ``{"request_id", "label", "ts"}``; ``ts`` (RFC 3339 UTC) is when the label became
known, i.e. when it was delivered.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from serving.prediction_log_writer import format_ts


class LabelDeliveryError(Exception):
    """Labels could not be delivered; the message names the destination and the cause."""


@dataclass(frozen=True)
class LabelRecord:
    request_id: str
    label: Any
    ts: float  # epoch seconds

    def to_json(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "label": self.label, "ts": format_ts(self.ts)}


class LabelSink(Protocol):
    """Receives batches of labels. ``deliver`` raises :class:`LabelDeliveryError` on failure."""

    def deliver(self, model: str, labels: Sequence[LabelRecord]) -> None: ...


class HttpLabelSink:
    """Posts labels to the daemon: ``POST <url>/api/v1/labels`` with a bearer token."""

    PATH = "/api/v1/labels"

    def __init__(self, session: Any, url: str, token: str | None, *, timeout: float = 10.0):
        base = url.rstrip("/")
        self.url = base if base.endswith(self.PATH) else base + self.PATH
        self.session, self.timeout = session, timeout
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    def deliver(self, model: str, labels: Sequence[LabelRecord]) -> None:
        body = {"model": model, "labels": [label.to_json() for label in labels]}
        try:
            resp = self.session.post(self.url, json=body, headers=self._headers, timeout=self.timeout)
        except Exception as exc:  # requests raises a family of its own exceptions
            raise LabelDeliveryError(f"POST {self.url} failed: {exc}") from None
        if not 200 <= resp.status_code < 300:
            raise LabelDeliveryError(f"POST {self.url} answered {resp.status_code}: {resp.text[:300]}")


class FileLabelSink:
    """Appends labels to a JSON Lines file, one whole batch per write."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def deliver(self, model: str, labels: Sequence[LabelRecord]) -> None:
        data = "".join(json.dumps(label.to_json(), allow_nan=False) + "\n" for label in labels)
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write(data)
                    fh.flush()
        except OSError as exc:
            raise LabelDeliveryError(f"cannot append labels to {self.path}: {exc.strerror}") from None
