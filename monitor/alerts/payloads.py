"""Webhook payloads: Alertmanager's (version 4) and Grafana's (version 1), read into one shape.

Both senders post a group of alerts with a ``groupKey``; each alert has a status, labels,
``startsAt`` and a fingerprint. Grafana adds fields (``values``, ``ruleUID``, ...) that are
kept in the stored payload but not needed to act. A body that is not such a payload is a
:class:`PayloadError` naming the field, the value and what was expected.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monitor.config import format_location
from serving.json_body import JSONBodyError, read_json

Source = Literal["alertmanager", "grafana"]
VERSIONS: dict[str, str] = {"alertmanager": "4", "grafana": "1"}
MAX_ALERTS = 1000


class PayloadError(Exception):
    """The body is not a webhook payload; ``status`` is 400 (not JSON) or 422 (wrong shape)."""

    def __init__(self, status: int, problems: list[str]):
        self.status = status
        self.problems = problems
        super().__init__("; ".join(problems))


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class IncomingAlert(_Lenient):
    """One alert of a notification. ``fingerprint`` is filled from the labels when a sender omits it."""

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str = Field(max_length=64)
    endsAt: str | None = None
    generatorURL: str | None = None
    fingerprint: str | None = Field(None, max_length=128)

    @field_validator("startsAt")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        starts_at_seconds(value)
        return value

    @property
    def key_fingerprint(self) -> str:
        if self.fingerprint:
            return self.fingerprint
        canonical = json.dumps(sorted(self.labels.items()), separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def starts_at(self) -> float:
        return starts_at_seconds(self.startsAt)


class WebhookPayload(_Lenient):
    """A notification from Alertmanager or Grafana: a group of alerts under one ``groupKey``."""

    version: str
    groupKey: str = Field(min_length=1, max_length=4096)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    truncatedAlerts: int = 0
    alerts: list[IncomingAlert] = Field(max_length=MAX_ALERTS)


def starts_at_seconds(value: str) -> float:
    """Unix seconds of an RFC 3339 time such as ``2026-11-28T20:17:27.123456789Z``."""
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("expected an RFC 3339 time such as 2026-11-28T20:17:27Z") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def parse_payload(body: bytes, source: Source) -> WebhookPayload:
    """Read a webhook body from ``source``; raises :class:`PayloadError` for anything else."""
    try:
        raw: Any = read_json(body)
    except JSONBodyError as exc:
        raise PayloadError(400, [f"body: not JSON that the daemon accepts ({exc})"]) from None
    if not isinstance(raw, dict):
        raise PayloadError(422, [f"(top level): got {type(raw).__name__}; expected a JSON object"])
    try:
        payload = WebhookPayload.model_validate(raw)
    except ValidationError as exc:
        raise PayloadError(422, [_describe(err) for err in exc.errors()]) from None
    expected = VERSIONS[source]
    if payload.version != expected:
        raise PayloadError(
            422, [f"version: got {payload.version!r}; expected {expected!r} for a {source} webhook"]
        )
    return payload


def _describe(err: Any) -> str:
    where = format_location(tuple(err["loc"]))
    if err["type"] == "missing":
        return f"{where}: required field is missing"
    value = err.get("input")
    shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    message = err["msg"].removeprefix("Value error, ")
    return f"{where}: got {shown[:80]}; {message[:1].lower() + message[1:]}"
