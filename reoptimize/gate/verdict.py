"""The gate's verdict: a frozen record of what was compared and why, and its readable text.

:func:`reoptimize.gate.decision.decide` builds one; a job's result carries it through JSON
(:meth:`GateVerdict.to_json` and :meth:`GateVerdict.from_json`), and the supervisor decides on
the typed value it reads back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "ConstraintResult",
    "GateVerdict",
    "format_number",
    "format_since",
    "format_span",
    "format_time",
    "trigger_when",
    "verdict_text",
]


@dataclass(frozen=True)
class ConstraintResult:
    expression: str
    values: Mapping[str, float | None]
    ok: bool
    detail: str  # the expression with values filled in, or why it could not be checked

    def to_json(self) -> dict[str, Any]:
        return {
            "expression": self.expression,
            "values": dict(self.values),
            "ok": self.ok,
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConstraintResult:
        return cls(
            str(data["expression"]), dict(data.get("values") or {}), bool(data["ok"]), str(data["detail"])
        )


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    objective: str
    candidate_value: float | None
    champion_value: float | None
    objective_gain: float | None
    min_improvement: float
    constraints: tuple[ConstraintResult, ...]
    reasons: tuple[str, ...]
    approval: str = "auto"
    relative: bool = False
    candidate_label: str = "candidate"
    champion_label: str = "champion"
    trigger: Mapping[str, Any] = field(default_factory=dict)

    @property
    def auto_promote(self) -> bool:
        """True when the daemon may promote without a person: passed and approval is auto."""
        return self.passed and self.approval == "auto"

    def text(self) -> str:
        """The decision record a person reads to learn why a model did or did not change."""
        return verdict_text(self)

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "auto_promote": self.auto_promote,
            "objective": self.objective,
            "candidate_value": self.candidate_value,
            "champion_value": self.champion_value,
            "objective_gain": self.objective_gain,
            "min_improvement": self.min_improvement,
            "relative": self.relative,
            "constraints": [c.to_json() for c in self.constraints],
            "reasons": list(self.reasons),
            "approval": self.approval,
            "candidate": self.candidate_label,
            "champion": self.champion_label,
            "trigger": dict(self.trigger),
            "text": self.text(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GateVerdict:
        """The verdict :meth:`to_json` wrote (``auto_promote`` and ``text`` are derived again).

        Raises ``ValueError`` naming the field when ``data`` is not such a verdict.
        """
        try:
            return cls(
                passed=bool(data["passed"]),
                objective=str(data["objective"]),
                candidate_value=_optional_float(data.get("candidate_value")),
                champion_value=_optional_float(data.get("champion_value")),
                objective_gain=_optional_float(data.get("objective_gain")),
                min_improvement=float(data["min_improvement"]),
                constraints=tuple(ConstraintResult.from_json(c) for c in data.get("constraints") or ()),
                reasons=tuple(str(r) for r in data.get("reasons") or ()),
                approval=str(data.get("approval", "auto")),
                relative=bool(data.get("relative", False)),
                candidate_label=str(data.get("candidate", "candidate")),
                champion_label=str(data.get("champion", "champion")),
                trigger=dict(data.get("trigger") or {}),
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a gate verdict: {type(exc).__name__}: {exc}") from None


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def format_number(value: Any) -> str:
    """A metric as a person reads it: floats to four significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# Times for people, written exactly as rules.durations writes them (reoptimize may not import
# rules; a test holds the two to the same output). Machine fields keep Unix seconds.
UNKNOWN = "unknown"


def _seconds_or_none(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def format_time(at: float | None) -> str:
    """Unix seconds as RFC 3339 in UTC to the second, e.g. ``2026-12-08T00:02:48Z``; else ``unknown``."""
    seconds = _seconds_or_none(at)
    if seconds is None or seconds < 0:
        return UNKNOWN
    try:
        moment = datetime.fromtimestamp(math.floor(seconds), UTC)
    except (OverflowError, OSError, ValueError):  # beyond the year 9999
        return UNKNOWN
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_span(seconds: float | None) -> str:
    """``12 s``, ``3 min``, ``2 h 5 min``, ``3 d``, ``3 d 4 h``; ``unknown`` when negative or missing."""
    value = _seconds_or_none(seconds)
    total = round(value) if value is not None else -1
    if total < 0:
        return UNKNOWN
    if total < 60:
        return f"{total} s"
    if total < 3600:
        return f"{total // 60} min"
    if total < 86400:
        hours, minutes = divmod(total // 60, 60)
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(total // 3600, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


def format_since(at: float | None, since: float | None) -> str:
    """How long after ``since`` the moment ``at`` came (:func:`format_span`); ``unknown`` if not after."""
    end, start = _seconds_or_none(at), _seconds_or_none(since)
    if end is None or start is None:
        return UNKNOWN
    return format_span(end - start)


def objective_line(v: GateVerdict) -> str:
    metric = v.objective.removeprefix("-")
    direction = "" if not v.objective.startswith("-") else ", lower is better"
    if v.objective_gain is None:
        return f"{metric} {format_number(v.candidate_value)} vs {format_number(v.champion_value)} (not measured{direction})"
    ok = v.objective_gain >= v.min_improvement
    if v.relative:
        gain, minimum = f"{v.objective_gain:+.1%}", f"{v.min_improvement:.1%}"
    else:
        gain, minimum = f"{v.objective_gain:+.4g}", f"{v.min_improvement:g}"
    return (
        f"{metric} {format_number(v.candidate_value)} vs {format_number(v.champion_value)} "
        f"({gain} {'≥' if ok else '<'} {minimum}{direction})"
    )


TRIGGER_TIMES = ("at", "condition_since")  # Unix seconds in a trigger, shown as times, not numbers


def trigger_line(trigger: Mapping[str, Any]) -> str | None:
    """``trigger: rule feature-drift (drift_share=0.62) at 2026-12-08T00:02:48Z, 9 s after the
    condition became true``: the rule, its measurements, other plain fields, then when."""
    if not trigger:
        return None
    parts = [f"rule {trigger['rule']}"] if trigger.get("rule") else []
    measurements = trigger.get("measurements")
    if isinstance(measurements, Mapping) and measurements:
        shown = [
            f"{k}={format_number(v)}"
            for k, v in list(measurements.items())[:6]
            if not isinstance(v, Mapping | list)
        ]
        parts.append("(" + ", ".join(shown) + ")")
    others = [
        f"{k}={v}"
        for k, v in trigger.items()
        if k not in ("rule", "measurements", *TRIGGER_TIMES) and isinstance(v, str | int | float)
    ]
    parts.extend(others[:4])
    when = trigger_when(trigger.get("at"), trigger.get("condition_since"))
    if when:
        parts.append(when)
    return "trigger: " + " ".join(parts) if parts else None


def trigger_when(at: Any, since: Any) -> str:
    """When a trigger fired, relative to when its condition became true; empty when neither is known."""
    since_text = f"condition true since {format_time(since)}" if since is not None else ""
    if at is None:
        return since_text
    span = format_since(at, since)
    if span != UNKNOWN:
        return f"at {format_time(at)}, {span} after the condition became true"
    # No since, or a since after the trigger (clocks apart): give both moments as they are.
    return f"at {format_time(at)}" + (f", {since_text}" if since_text else "")


def verdict_text(v: GateVerdict) -> str:
    """``promote v3 over v2: recent_accuracy 0.91 vs 0.62 (+0.29 ≥ 0.01)`` and one line per check."""
    if v.passed and v.approval == "manual":
        head = f"promote {v.candidate_label} over {v.champion_label} once approved"
    elif v.passed:
        head = f"promote {v.candidate_label} over {v.champion_label}"
    else:
        head = f"keep {v.champion_label}, reject {v.candidate_label}"
    lines = [f"{head}: {objective_line(v)}"]
    for c in v.constraints:
        lines.append(f"  {'✓' if c.ok else '✗'} {c.expression}: {c.detail}")
    # Failed constraints are already marked above; list only the other reasons.
    for reason in v.reasons:
        if not reason.startswith("constraint failed"):
            lines.append(f"  ✗ {reason}")
    if v.passed:
        lines.append(
            "  approval: manual, waiting for a person to promote"
            if v.approval == "manual"
            else "  approval: auto"
        )
    extra = trigger_line(v.trigger)
    if extra:
        lines.append(f"  {extra}")
    return "\n".join(lines)
