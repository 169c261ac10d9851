"""What ``modelhealthd status`` shows for each model, from the state store or from the API.

Both sources give the same summary shape (the API's ``/api/v1/models``), and one function
turns a summary into a :class:`ModelStatus` with a health verdict:

* ``unknown``: no check has run yet;
* ``failing``: the last check raised an error;
* ``stale``: the last check is older than ``STALE_CHECKS`` check intervals (the daemon is
  down or wedged);
* ``firing``: a rule fires for the model (an action may be under way);
* ``ok``: none of these.

It also holds :func:`verdict_text`, the gate verdict of a job as ``jobs show`` and
``trigger --wait`` print it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from monitor.config import Config
from monitor.state.store import StateStore
from reoptimize.gate.verdict import GateVerdict
from reoptimize.registry.registry import Registry
from reoptimize.registry.registry_errors import RegistryError
from rules.durations import UNKNOWN, format_span

STALE_CHECKS = 3.0
HEALTHY = "ok"


@dataclass(frozen=True)
class ModelStatus:
    model: str
    production_version: str | None
    versions: tuple[str, ...]
    health: str
    reason: str
    last_check_at: float | None
    firing: tuple[str, ...]
    pending: tuple[str, ...]
    active_jobs: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def local_summary(name: str, store: StateStore, registry: Registry) -> dict[str, Any]:
    """A model's summary read from the store and registry, shaped like ``GET /api/v1/models``."""
    latest = store.checks.latest(name)
    try:
        production, versions = registry.production(name), registry.versions(name)
    except RegistryError:
        production, versions = None, []
    return {
        "model": name,
        "production_version": production,
        "versions": versions,
        "last_check": latest.to_json() if latest else None,
        "rules": {rule: state.get("state") for (rule, _), state in store.rule_states.load(name).items()},
        "active_jobs": [job.id for job in store.jobs.active(name)],
    }


def model_status(summary: dict[str, Any], check_every: float | None, now: float) -> ModelStatus:
    """Judge one summary; ``check_every`` is the model's check interval (None if not configured)."""
    rules = summary.get("rules") or {}
    firing = tuple(sorted(r for r, s in rules.items() if s == "firing"))
    pending = tuple(sorted(r for r, s in rules.items() if s == "pending"))
    check = summary.get("last_check")
    at = check.get("at") if check else None
    if check is None:
        health, reason = "unknown", "no check has run yet"
    elif not check.get("ok", True):
        health, reason = "failing", f"last check failed: {check.get('error')}"
    elif at is None:  # a record without its time cannot be judged stale or fresh
        health, reason = "unknown", "the last check carries no time"
    elif check_every is not None and now - at > STALE_CHECKS * check_every:
        health, reason = "stale", f"last check {age(now - at)} (checks every {check_every:g}s)"
    elif firing:
        health, reason = "firing", "rule(s) firing: " + ", ".join(firing)
    else:
        health, reason = HEALTHY, "checks pass and no rule fires"
    return ModelStatus(
        model=summary["model"],
        production_version=summary.get("production_version"),
        versions=tuple(summary.get("versions") or ()),
        health=health,
        reason=reason,
        last_check_at=at,
        firing=firing,
        pending=pending,
        active_jobs=tuple(summary.get("active_jobs") or ()),
    )


def statuses(config: Config, summaries: list[dict[str, Any]], now: float) -> list[ModelStatus]:
    every = {m.name: m.check.every for m in config.models}
    return [model_status(s, every.get(s["model"]), now) for s in summaries]


def age(seconds: float | None) -> str:
    """How long ago, for people: ``12 s ago``, ``3 min ago``; ``-`` when there was no such moment."""
    if seconds is None:
        return "-"
    span = format_span(seconds)
    return UNKNOWN if span == UNKNOWN else f"{span} ago"  # a moment ahead of this clock has no age


def verdict_text(verdict: dict[str, Any]) -> str | None:
    """A job result's gate verdict as text, written again from its fields so that a job stored
    by an older version reads its times as today's do; the stored text when it cannot be."""
    if not verdict:
        return None
    try:
        return GateVerdict.from_json(verdict).text()
    except ValueError:
        return verdict.get("text") or None
