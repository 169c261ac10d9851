"""Frozen records returned by the state repositories."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled", "timed_out")
ACTIVE_JOB_STATES = ("queued", "running")


def loads(text: str | None, default: Any = None) -> Any:
    return default if text is None else json.loads(text)


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, allow_nan=False)


@dataclass(frozen=True)
class CheckRecord:
    id: int
    model: str
    version: str | None
    at: float
    ok: bool
    error: str | None
    measurements: Mapping[str, float | None]
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class JobRecord:
    id: str
    model: str
    pipeline: str
    params: Mapping[str, Any]
    trigger: Mapping[str, Any]
    rule: str | None
    state: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    heartbeat_at: float | None
    progress: Mapping[str, Any] | None
    result: Mapping[str, Any] | None
    error: str | None
    champion_version: str | None
    candidate_version: str | None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_JOB_STATES

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class JobOutcome:
    """How a finished job ended: what the circuit breaker counts, without the job's JSON."""

    state: str
    finished_at: float | None
    candidate_version: str | None


@dataclass(frozen=True)
class PromotionRecord:
    id: int
    model: str
    from_version: str | None
    to_version: str
    kind: str
    state: str
    job_id: str | None
    reason: str
    created_at: float
    finished_at: float | None
    reload: Mapping[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DecisionRecord:
    id: int
    at: float
    kind: str
    model: str | None
    rule: str | None
    job_id: str | None
    message: str
    data: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
