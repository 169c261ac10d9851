"""What a job is for, read from the rule that triggered it, and the gate policy that follows.

A drift or accuracy rule wants a model that is right again: the model's own promotion
policy applies unchanged. A latency, cost or size rule wants the same answers for less:
the objective becomes that resource (lower is better, as a fraction of the champion's), and
a candidate may lose at most ``accuracy_budget`` of holdout accuracy (0.5 pt by default).

For latency and cost the resource is the time to answer a batch of rows
(``batch_latency_seconds``): it is the model's compute per row, which is what a loaded
server's queueing delay and CPU bill grow with. A single row's latency is mostly the
runtime's fixed per-call overhead for small models, so compression rarely moves it; it is
guarded instead: a candidate's single-row p95 may be at most 10% above the champion's.

The trigger is the job spec's ``trigger``: the rule name and the measurements its condition
read (``inputs`` from the daemon, ``measurements`` in tests and manual jobs). A rule reading
several kinds counts as the first of: drift, accuracy, cost, size, latency. With no
measurement the rule name's words decide, then the pipeline's steps; ``with: {goal: ...}``
overrides all of this.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reoptimize.gate.policy import Policy, PolicyError
from reoptimize.tasks.task import Task, task_named

GOALS = ("drift", "accuracy", "cost", "size", "latency", "general")
MEASUREMENTS = {
    "drift": (
        "drift_share",
        "drifted_features",
        "dataset_drift",
        "prediction_drift_score",
        "prediction_drift",
        "drift_impact",
    ),
    "accuracy": ("accuracy", "f1", "mae", "rmse", "estimated_accuracy", "train_holdout_gap"),
    "cost": ("cpu_seconds_per_1k_predictions", "cost_per_1k_predictions", "memory_bytes"),
    "size": ("model_size_bytes",),
    "latency": ("latency_p50_seconds", "latency_p95_seconds", "latency_p99_seconds"),
}
WORDS = {
    "drift": ("drift",),
    "accuracy": ("accuracy", "quality", "error"),
    "cost": ("cost", "cpu", "expensive"),
    "size": ("size", "memory", "big"),
    "latency": ("latency", "slow", "p95", "p99"),
}
OBJECTIVES = {
    "latency": "-batch_latency_seconds",
    "cost": "-batch_latency_seconds",
    "size": "-model_size_bytes",
}
SINGLE_ROW_GUARD = "latency_p95_seconds <= 1.1 * champion.latency_p95_seconds"
COMPRESSION_STEPS = {"quantize": "latency", "prune": "latency", "distill": "cost"}
DEFAULT_MIN_GAIN = 0.05
DEFAULT_ACCURACY_BUDGET = 0.005


@dataclass(frozen=True)
class Goal:
    kind: str
    reason: str

    @property
    def compresses(self) -> bool:
        return self.kind in OBJECTIVES

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "reason": self.reason}


def trigger_measurements(trigger: Mapping[str, Any]) -> dict[str, Any]:
    for key in ("inputs", "measurements"):
        value = trigger.get(key)
        if isinstance(value, Mapping) and value:
            return dict(value)
    return {}


def goal_of(
    trigger: Mapping[str, Any], steps: Sequence[str] = (), params: Mapping[str, Any] | None = None
) -> Goal:
    """The goal of a job: from ``params['goal']``, the trigger's measurements, its rule name, or its steps."""
    params = params or {}
    forced = params.get("goal")
    if forced is not None:
        if forced not in GOALS:
            raise PolicyError(f"with.goal: got {forced!r}; expected one of {', '.join(GOALS)}")
        return Goal(forced, "set by the action's with.goal")
    # Only what the rule's condition read counts: the daemon also attaches the names of drifted
    # features to every trigger (for ``augment: auto``), whatever the rule was about.
    names = set(trigger_measurements(trigger))
    for kind, known in MEASUREMENTS.items():
        read = sorted(names & set(known))
        if read:
            return Goal(kind, f"rule {trigger.get('rule', '?')} read {', '.join(read)}")
    rule = str(trigger.get("rule") or "").lower()
    for kind, words in WORDS.items():
        hit = next((w for w in words if w in rule), None)
        if hit:
            return Goal(kind, f"rule name {trigger.get('rule')!r} mentions {hit!r}")
    kinds = {COMPRESSION_STEPS.get(s) for s in steps}
    if steps and None not in kinds:
        kind = "cost" if "cost" in kinds else "latency"
        return Goal(kind, f"pipeline {'+'.join(steps)} only compresses the model")
    return Goal("general", "no latency, cost or size trigger: the model's promotion policy applies")


def job_policy(base: Policy, goal: Goal, params: Mapping[str, Any], task: str | Task) -> Policy:
    """The policy a job's candidates are gated by: ``base`` adapted to ``goal``, then ``with:`` overrides.

    ``with:`` may set ``objective``, ``min_improvement``, ``relative`` and, for compression
    goals, ``min_gain`` (default 5%) and ``accuracy_budget`` (default 0.005).
    """
    policy = base
    if goal.compresses:
        budget = params.get("accuracy_budget", DEFAULT_ACCURACY_BUDGET)
        min_gain = params.get("min_gain", DEFAULT_MIN_GAIN)
        guard = task_named(task).quality_guard(float(budget))
        guards = (guard, SINGLE_ROW_GUARD) if goal.kind in ("latency", "cost") else (guard,)
        policy = replace(
            base,
            objective=OBJECTIVES[goal.kind],
            min_improvement=float(min_gain),
            relative=True,
            constraints=(*base.constraints, *guards),
        )
    overrides = {k: params[k] for k in ("objective", "min_improvement", "relative") if k in params}
    data = {**policy.to_json(), **overrides}
    return Policy.from_dict(data, where="with" if overrides else "job policy")
