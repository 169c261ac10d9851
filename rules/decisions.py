"""Decisions: the entries of the decision log, the answer to "why did my model change?".

Every transition, guard outcome, job, gate verdict, promotion and rollback becomes one
:class:`Decision` with a readable message and the inputs behind it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from rules.durations import format_duration
from rules.guards.guard import GuardOutcome, human
from rules.rule_schema import Rule
from rules.state_machine import RuleState, Transition

DecisionKind = Literal[
    "transition", "guard", "action", "job", "verdict", "promotion", "rollback", "alert", "reset"
]
KINDS: tuple[str, ...] = (
    "transition",
    "guard",
    "action",
    "job",
    "verdict",
    "promotion",
    "rollback",
    "alert",
    "reset",
)


@dataclass(frozen=True)
class Decision:
    """One decision-log entry. ``data`` holds JSON values only; ``rule`` is None when no rule was involved."""

    at: float
    kind: DecisionKind
    model: str
    rule: str | None
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"decision kind: got {self.kind!r}; expected one of {', '.join(KINDS)}")
        try:
            json.dumps(self.data, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"decision data for {self.model}: expected JSON values: {exc}") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "kind": self.kind,
            "model": self.model,
            "rule": self.rule,
            "message": self.message,
            "data": dict(self.data),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Decision:
        missing = [k for k in ("at", "kind", "model", "message") if k not in data]
        if missing:
            raise ValueError(f"decision: missing field(s) {', '.join(missing)}")
        return cls(
            float(data["at"]),
            data["kind"],
            data["model"],
            data.get("rule"),
            data["message"],
            data.get("data") or {},
        )


def _clean(values: Mapping[str, float | None]) -> dict[str, float | None]:
    # NaN and inf are not JSON; an unmeasurable value is None anyway.
    return {k: (float(v) if v is not None and math.isfinite(v) else None) for k, v in values.items()}


def transition_decision(
    rule: Rule, model: str, transition: Transition, previous: RuleState, values: Mapping[str, float | None]
) -> Decision:
    """The decision for ``rule`` changing state on ``model``; ``previous`` is the state before the step.

    Its message reads like ``rule feature-drift firing for digits: drift_share=0.62 > 0.3 for 2m``.
    """
    expression = rule.expression
    shown = expression.describe(values)
    now = transition.at
    if transition.kind == "pending":
        message = f"rule {rule.name} pending for {model}: {shown}; fires if it holds for {format_duration(rule.for_s)}"
    elif transition.kind == "firing":
        held = now - previous.active_since if previous.active_since is not None else 0.0
        message = f"rule {rule.name} firing for {model}: {shown}" + (
            f" for {human(held)}" if held > 0 else ""
        )
    elif transition.kind == "resolved":
        since = previous.keep_firing_since
        message = f"rule {rule.name} resolved for {model}: {shown}" + (
            f"; false for {human(now - since)}" if since is not None and now > since else ""
        )
    else:
        message = f"rule {rule.name} no longer pending for {model}: {shown}"
    data = {
        "transition": transition.kind,
        "previous": transition.previous,
        "severity": rule.severity,
        "expression": rule.when,
        "inputs": _clean(expression.inputs(values)),
        "labels": dict(rule.labels),
        "annotations": dict(rule.annotations),
    }
    return Decision(now, "transition", model, rule.name, message, data)


# Guards that limit how often and how much the daemon acts (a job running for the model, the
# cooldown, the budget, the blast radius, the global concurrency). Their refusals are the excess
# of a burst, recorded as rate-limited; the circuit breaker is a stop, not a limit.
RATE_LIMITING_GUARDS = frozenset({"inhibition", "cooldown", "budget", "blast_radius", "concurrency"})


def guard_decision(outcome: GuardOutcome, dry_run: bool = False) -> Decision:
    """The decision for a proposal after the guards; in dry-run mode an allowed one "would have run".

    A refusal by a rate-limiting guard reads ``rate-limited: refused ...`` and has
    ``data.rate_limited`` true.
    """
    p = outcome.proposal
    what = f"{p.action.pipeline} for {p.model} (rule {p.rule})"
    refused = outcome.refused_by
    limited = refused is not None and refused.guard in RATE_LIMITING_GUARDS
    if refused is not None:
        message = f"refused {what} by {refused.guard}: {refused.reason}"
        if limited:
            message = "rate-limited: " + message
    elif dry_run:
        message = f"dry run: would have run {what}; every guard allowed it"
    else:
        message = f"allowed {what}; every guard allowed it"
    data = outcome.to_json(dry_run)
    data["proposal"]["inputs"] = _clean(p.inputs)
    data["rate_limited"] = limited
    return Decision(p.at, "guard", p.model, p.rule, message, data)


def alert_decision(rule: Rule, model: str, alert_labels: Mapping[str, str], at: float) -> Decision:
    """The decision for an incoming alert taken by a ``source: alert`` rule."""
    name = alert_labels.get("alertname", "(unnamed)")
    message = f"alert {name} for {model} taken by rule {rule.name}"
    data = {"alert_labels": dict(alert_labels), "severity": rule.severity}
    return Decision(at, "alert", model, rule.name, message, data)


def breaker_reset_decision(model: str, at: float, by: str, reason: str, failures: int) -> Decision:
    """The decision for a person closing ``model``'s circuit breaker; earlier failures stop counting."""
    message = (
        f"circuit breaker of {model} reset by {by}: {reason} ({failures} failed job(s) in a row forgiven)"
    )
    data = {"guard": "circuit_breaker", "by": by, "reason": reason, "failures_forgiven": failures}
    return Decision(at, "reset", model, None, message, data)
