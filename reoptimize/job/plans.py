"""Plans: the candidates a job builds. An explicit pipeline is one plan; ``auto`` is several.

``auto`` picks plans for the job's goal (see :mod:`reoptimize.job.goals`):

=========  ===================================================================
drift      retrain (augmentation matched to the drift); retrain with recent
accuracy   traffic labelled by the champion; an Optuna tuning run
latency    dynamic int8; static int8; structured pruning of 50/75/87.5% of the
           hidden units in fp32 (a small model often runs faster without the
           int8 casts); the same pruning, each followed by static int8
cost       distillation into students of 1/2, 1/4, 1/8 the width, each
           followed by static int8; static int8 alone
size       static int8; structured pruning + static int8, as for latency
=========  ===================================================================

Plans on one *ladder* grow more aggressive in order. The search stops climbing a ladder
when a rung breaks the policy (the next would break it harder) or gains less than the
minimum over the best so far (diminishing returns); see :mod:`reoptimize.job.search`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reoptimize.job.goals import Goal
from reoptimize.steps.catalog import CATALOG, step_names
from reoptimize.steps.step import TORCH, WEIGHTS

PRUNE_AMOUNTS = (0.5, 0.75, 0.875)
DISTILL_WIDTHS = (0.5, 0.25, 0.125)


@dataclass(frozen=True)
class Plan:
    name: str
    steps: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    ladder: str | None = None

    def job_params(self, base: Mapping[str, Any]) -> dict[str, Any]:
        """The action's ``with:`` with this plan's settings on top (per-step mappings merged)."""
        out = dict(base)
        for key, value in self.params.items():
            if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
                out[key] = {**out[key], **value}
            elif key not in base or isinstance(value, Mapping):
                out[key] = value
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "steps": list(self.steps),
            "params": dict(self.params),
            "ladder": self.ladder,
        }


def explicit_plan(pipeline: str | Sequence[str]) -> Plan:
    steps = step_names(pipeline)
    return Plan(name="+".join(steps), steps=steps)


def _static() -> dict[str, Any]:
    return {"quantize": {"mode": "static"}}


def _prune_ladder() -> list[Plan]:
    return [Plan(f"prune-{a:g}", ("prune",), {"prune": {"amount": a}}, "prune") for a in PRUNE_AMOUNTS]


def _prune_quantize_ladder() -> list[Plan]:
    return [
        Plan(
            f"prune-{a:g}+quantize-static",
            ("prune", "quantize"),
            {"prune": {"amount": a}, **_static()},
            "prune-int8",
        )
        for a in PRUNE_AMOUNTS
    ]


def auto_plans(goal: Goal, *, has_weights: bool, has_unlabelled: bool, torch: bool = True) -> list[Plan]:
    """The plans ``auto`` tries for ``goal``, mildest first.

    Plans with a step that starts from the champion's torch weights need them (``has_weights``);
    plans with a step that trains torch modules need a family with torch (``torch``).
    """
    if goal.kind in ("latency", "size"):
        plans = [Plan("quantize-static", ("quantize",), _static())]
        if goal.kind == "latency":
            plans.insert(0, Plan("quantize-dynamic", ("quantize",), {"quantize": {"mode": "dynamic"}}))
            plans += _prune_ladder()
        plans += _prune_quantize_ladder()
    elif goal.kind == "cost":
        plans = [
            Plan(
                f"distill-{w:g}+quantize-static",
                ("distill", "quantize"),
                {"distill": {"width": w}, **_static()},
                "distill",
            )
            for w in DISTILL_WIDTHS
        ]
        plans.append(Plan("quantize-static", ("quantize",), _static()))
    else:
        plans = [Plan("retrain", ("retrain",), {"augment": "auto"}, "accuracy")]
        if has_unlabelled:
            plans.append(
                Plan(
                    "retrain+teacher-labels",
                    ("retrain",),
                    {"augment": "auto", "retrain": {"teacher_confidence": 0.95}},
                    "accuracy",
                )
            )
        plans.append(Plan("tune", ("tune",), {"tune": {"trials": 8, "time_budget": 90.0}}, "accuracy"))
    unusable = (set() if has_weights else CATALOG.steps_needing(WEIGHTS)) | (
        set() if torch else CATALOG.steps_needing(TORCH)
    )
    return [p for p in plans if not set(p.steps) & unusable]
