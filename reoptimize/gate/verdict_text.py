"""The human-readable decision record of a gate verdict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reoptimize.gate.verdict import GateVerdict


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def objective_line(v: GateVerdict) -> str:
    metric = v.objective.removeprefix("-")
    direction = "" if not v.objective.startswith("-") else ", lower is better"
    if v.objective_gain is None:
        return f"{metric} {_num(v.candidate_value)} vs {_num(v.champion_value)} (not measured{direction})"
    ok = v.objective_gain >= v.min_improvement
    if v.relative:
        gain, minimum = f"{v.objective_gain:+.1%}", f"{v.min_improvement:.1%}"
    else:
        gain, minimum = f"{v.objective_gain:+.4g}", f"{v.min_improvement:g}"
    return (
        f"{metric} {_num(v.candidate_value)} vs {_num(v.champion_value)} "
        f"({gain} {'≥' if ok else '<'} {minimum}{direction})"
    )


def trigger_line(trigger: Mapping[str, Any]) -> str | None:
    if not trigger:
        return None
    parts = [f"rule {trigger['rule']}"] if trigger.get("rule") else []
    measurements = trigger.get("measurements")
    if isinstance(measurements, Mapping) and measurements:
        shown = [
            f"{k}={_num(v)}" for k, v in list(measurements.items())[:6] if not isinstance(v, Mapping | list)
        ]
        parts.append("(" + ", ".join(shown) + ")")
    others = [
        f"{k}={v}"
        for k, v in trigger.items()
        if k not in ("rule", "measurements") and isinstance(v, str | int | float)
    ]
    parts.extend(others[:4])
    return "trigger: " + " ".join(parts) if parts else None


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
