"""The action pipelines a rule may name. Add a pipeline here and every rule file may use it."""

from __future__ import annotations

NOTIFY = "notify"

# Pipelines that start a re-optimization job; each name is a job kind in ``reoptimize``.
JOB_PIPELINES: tuple[str, ...] = ("retrain", "prune", "quantize", "distill", "tune", "auto", "export")

# Every name a rule's ``actions[].pipeline`` accepts. ``notify`` only records a decision.
PIPELINES: tuple[str, ...] = (*JOB_PIPELINES, NOTIFY)


def starts_job(pipeline: str) -> bool:
    """Whether running ``pipeline`` starts a job (and so has to pass the guards)."""
    return pipeline in JOB_PIPELINES
