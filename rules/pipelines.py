"""The action pipelines a rule may name. Add a pipeline here and every rule file may use it.

Besides the names below, a rule may chain steps: ``retrain+prune+quantize`` (also written
``retrain -> prune -> quantize``, or as a YAML list). :func:`normalize_pipeline` turns any of
these into the ``+``-joined form that jobs store.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

NOTIFY = "notify"
AUTO = "auto"

# The steps of a re-optimization pipeline; each is a module ``reoptimize/steps/<name>_step.py``.
STEPS: tuple[str, ...] = ("retrain", "prune", "quantize", "distill", "tune", "export")

# Pipelines that start a re-optimization job; each name is a job kind in ``reoptimize``.
JOB_PIPELINES: tuple[str, ...] = ("retrain", "prune", "quantize", "distill", "tune", "auto", "export")

# Every name a rule's ``actions[].pipeline`` accepts. ``notify`` only records a decision.
PIPELINES: tuple[str, ...] = (*JOB_PIPELINES, NOTIFY)

_SEPARATORS = re.compile(r"\s*(?:\+|->|→)\s*")


def normalize_pipeline(value: str | Sequence[str]) -> str:
    """``value`` as a pipeline name: a known name, or known steps joined with ``+``.

    Raises ``ValueError`` naming the unknown part.
    """
    if isinstance(value, str):
        if value in PIPELINES:
            return value
        parts = _SEPARATORS.split(value.strip())
    elif isinstance(value, Sequence) and value and all(isinstance(v, str) for v in value):
        parts = [v.strip() for v in value]
    else:
        raise ValueError(f"expected one of {', '.join(PIPELINES)}, or a list of steps")
    if len(parts) == 1 and parts[0] in PIPELINES:
        return parts[0]
    unknown = [p for p in parts if p not in STEPS]
    if unknown and len(parts) > 1:
        close = difflib.get_close_matches(unknown[0], STEPS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ValueError(
            f"unknown step {unknown[0]!r}{hint}; expected steps joined with '+' from {', '.join(STEPS)}"
        )
    if unknown or len(parts) < 2:
        raise ValueError(
            f"expected one of {', '.join(PIPELINES)}, or steps joined with '+' ({', '.join(STEPS)})"
        )
    return "+".join(parts)


def starts_job(pipeline: str) -> bool:
    """Whether running ``pipeline`` starts a job (and so has to pass the guards)."""
    if pipeline in JOB_PIPELINES:
        return True
    try:
        return normalize_pipeline(pipeline) not in (NOTIFY,)
    except ValueError:
        return False
