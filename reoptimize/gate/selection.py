"""Choosing among candidates that passed the gate: a Pareto front, then the objective.

A candidate is on the front unless another passing candidate is at least as good on every
axis (accuracy, single-row p95 latency, size, CPU per 1k predictions) and better on one.
Among the front, the one with the largest objective gain is kept; ties go to the smaller
model. Every other candidate gets the reason it was not kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reoptimize.gate.candidate_metrics import CandidateMetrics
from reoptimize.gate.verdict import GateVerdict
from reoptimize.tasks.task import Task, task_named

LOWER_IS_BETTER = ("latency_p95_seconds", "model_size_bytes", "cpu_seconds_per_1k_predictions")


def axes(task: str | Task) -> tuple[tuple[str, bool], ...]:
    """``(metric, higher_is_better)`` pairs of the Pareto front for ``task``."""
    return (task_named(task).selection_axis(), *((name, False) for name in LOWER_IS_BETTER))


def _better_or_equal(a: float | None, b: float | None, higher: bool) -> bool | None:
    if a is None or b is None:
        return None
    return a >= b if higher else a <= b


def dominates(a: CandidateMetrics, b: CandidateMetrics, task: str | Task) -> bool:
    """``a`` is at least as good as ``b`` on every measured axis and strictly better on one."""
    strictly = False
    for name, higher in axes(task):
        va, vb = a.get(name), b.get(name)
        ok = _better_or_equal(va, vb, higher)
        if ok is None:
            continue
        if not ok:
            return False
        strictly = strictly or va != vb
    return strictly


def pareto_front(metrics: Mapping[str, CandidateMetrics], task: str | Task) -> dict[str, str | None]:
    """Name -> ``None`` when on the front, else the name of a candidate that dominates it."""
    out: dict[str, str | None] = {}
    for name, m in metrics.items():
        out[name] = next(
            (other for other, o in metrics.items() if other != name and dominates(o, m, task)), None
        )
    return out


@dataclass(frozen=True)
class Selection:
    chosen: str | None
    reasons: Mapping[str, str] = field(default_factory=dict)  # why each other passing candidate was not kept
    front: tuple[str, ...] = ()


def choose(passed: Mapping[str, tuple[CandidateMetrics, GateVerdict]], task: str | Task) -> Selection:
    """The kept candidate among those that passed, and why each other one was not kept."""
    if not passed:
        return Selection(None)
    front = pareto_front({n: m for n, (m, _) in passed.items()}, task)
    on_front = [n for n, by in front.items() if by is None]

    def rank(name: str) -> tuple[float, float]:
        metrics, verdict = passed[name]
        return (verdict.objective_gain or 0.0, -(metrics.model_size_bytes or 0))

    chosen = max(on_front, key=rank)
    best_gain = passed[chosen][1].objective_gain or 0.0
    reasons: dict[str, str] = {}
    for name in passed:
        if name == chosen:
            continue
        if front[name] is not None:
            reasons[name] = (
                f"passed, but {front[name]} is as good or better on accuracy, latency, size and cost"
            )
        else:
            gain = passed[name][1].objective_gain or 0.0
            reasons[name] = (
                f"passed and on the Pareto front, but {chosen} gains more on the objective "
                f"({_gain(best_gain, passed[chosen][1])} vs {_gain(gain, passed[name][1])})"
            )
    return Selection(chosen, reasons, tuple(on_front))


def _gain(value: float, verdict: GateVerdict) -> str:
    return f"{value:+.1%}" if verdict.relative else f"{value:+.4g}"


def summary(metrics: CandidateMetrics | None) -> dict[str, Any]:
    """The headline numbers of a candidate, for tables and logs."""
    if metrics is None:
        return {}
    keys = (
        "holdout_accuracy",
        "recent_accuracy",
        "rmse",
        "latency_p50_seconds",
        "latency_p95_seconds",
        "batch_throughput_rows_per_second",
        "model_size_bytes",
        "cost_per_1k_predictions",
    )
    return {k: metrics.get(k) for k in keys if metrics.get(k) is not None}
