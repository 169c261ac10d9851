"""Following the loop from outside, through the daemon's API and the replay's live counters."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import requests
from rich.table import Table

from monitor.replay.progress import ReplayProgress


@dataclass
class LoopState:
    """What the demo has seen so far; refreshed once a second."""

    model: dict[str, Any] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    promotion: dict[str, Any] | None = None
    last_decision_id: int = 0

    @property
    def last_check(self) -> dict[str, Any]:
        return (self.model.get("last_check") or {}).get("measurements") or {}

    @property
    def jobs(self) -> list[dict[str, Any]]:
        return self.model.get("jobs") or []

    @property
    def verdict_texts(self) -> set[str]:
        """Every gate verdict text seen, in job results and in the decisions that quote them."""
        verdicts = [((j.get("result") or {}).get("verdict") or {}) for j in self.jobs]
        verdicts += [((d.get("data") or {}).get("verdict") or {}) for d in self.decisions]
        return {str(v["text"]) for v in verdicts if isinstance(v, dict) and v.get("text")}


# The demo prints the gate's verdict once, after the before/after table; the decisions that
# quote it (the job's outcome, the promotion's reason) point there instead of repeating it.
VERDICT_AT_THE_END = "the gate's verdict (printed at the end)"


def brief(message: str, verdict_texts: set[str]) -> str:
    """A decision message as the demo shows it: any gate verdict it quotes replaced by a pointer."""
    for text in sorted(verdict_texts, key=len, reverse=True):
        message = message.replace(text, VERDICT_AT_THE_END)
    return message


class DaemonWatch:
    def __init__(self, api_url: str, model: str, session: requests.Session):
        self.api_url = api_url.rstrip("/")
        self.model = model
        self.session = session
        self.state = LoopState()

    def get(self, path: str, **params: Any) -> Any:
        response = self.session.get(self.api_url + path, params=params, timeout=5)
        response.raise_for_status()
        return response.json()

    def refresh(self) -> list[dict[str, Any]]:
        """Poll the API; returns the decisions that are new since the last call (oldest first)."""
        self.state.model = self.get(f"/api/v1/models/{self.model}")
        fresh = [
            d
            for d in self.get("/api/v1/decisions", model=self.model, limit=200)
            if d["id"] > self.state.last_decision_id
        ]
        fresh.sort(key=lambda d: d["id"])
        if fresh:
            self.state.last_decision_id = fresh[-1]["id"]
            self.state.decisions.extend(fresh)
        done = [
            p
            for p in self.state.model.get("promotions", [])
            if p["state"] == "done" and p["kind"] == "promote"
        ]
        self.state.promotion = done[0] if done else None
        return fresh


def _fmt(value: Any, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def render(state: LoopState, progress: ReplayProgress, started: float) -> Table:
    stats = progress.snapshot()
    m = state.last_check
    table = Table(
        title=f"modelhealthd demo - {time.monotonic() - started:5.0f}s", show_header=False, expand=False
    )
    table.add_column("what", style="bold")
    table.add_column("value")
    phases = stats.phases
    table.add_row("traffic", f"{stats.sent} rows sent ({phases['baseline'].sent} baseline, {phases['drift'].sent} drifted), "
                  f"{stats.labels_delivered} labels delivered")  # fmt: skip
    table.add_row("live accuracy (last 100)", _fmt(progress.accuracy(last=100)))
    table.add_row(
        "last check",
        f"rows {_fmt(m.get('rows'), '.0f')}  drift_share {_fmt(m.get('drift_share'), '.2f')}  "
        f"accuracy {_fmt(m.get('accuracy'))}  p95 {_fmt(m.get('latency_p95_seconds'), '.4f')}s",
    )
    rules = state.model.get("rules") or {}
    table.add_row("rules", ", ".join(f"{r}: {s}" for r, s in sorted(rules.items())) or "-")
    job = state.jobs[0] if state.jobs else None
    if job:
        prog = job.get("progress") or {}
        detail = ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in prog.items() if k != "at"
        )
        table.add_row("job", f"{job['id']} {job['pipeline']} {job['state']}  {detail}")
    table.add_row("production", f"v{state.model.get('production_version')}")
    verdicts = state.verdict_texts
    for d in state.decisions[-5:]:
        table.add_row(d["kind"], brief(d["message"], verdicts)[:150])
    return table
