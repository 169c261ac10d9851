"""Pipelines by name: ``retrain``, steps joined with ``+`` such as ``retrain+prune+quantize``
(or given as a list), or ``auto``, which chooses candidates from the trigger (see
:mod:`reoptimize.job.plans`).

Step ``x`` is found in ``reoptimize/steps/x_step.py`` (its ``make_step()``), so adding a
step means adding a file.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from pathlib import Path

from reoptimize.steps.step import Step

AUTO = "auto"
_STEP_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}\Z")
_SEPARATORS = re.compile(r"\s*(?:\+|->|→|,)\s*")


class PipelineError(ValueError):
    """A pipeline name that names no known step."""


def available_steps() -> tuple[str, ...]:
    folder = Path(__file__).parent
    return tuple(sorted(p.stem.removesuffix("_step") for p in folder.glob("*_step.py")))


def step_names(pipeline: str | Sequence[str]) -> tuple[str, ...]:
    """The step names of ``pipeline`` (``"a+b"``, ``"a -> b"`` or ``["a", "b"]``), checked."""
    if isinstance(pipeline, str):
        parts = _SEPARATORS.split(pipeline.strip()) if pipeline.strip() else []
    elif isinstance(pipeline, Sequence) and all(isinstance(p, str) for p in pipeline):
        parts = [p.strip() for p in pipeline]
    else:
        raise PipelineError(
            f"pipeline {pipeline!r}: expected a name such as 'retrain' or a list of step names"
        )
    if not parts:
        raise PipelineError(f"pipeline {pipeline!r}: expected a name such as 'retrain'")
    known = available_steps()
    for name in parts:
        if not _STEP_NAME.match(name) or name not in known:
            raise PipelineError(
                f"pipeline {pipeline!r}: unknown step {name!r} (known steps: {', '.join(known)})"
            )
    return tuple(parts)


def is_auto(pipeline: str | Sequence[str]) -> bool:
    return isinstance(pipeline, str) and pipeline.strip() == AUTO


def load_step(name: str) -> Step:
    module = importlib.import_module(f"reoptimize.steps.{name}_step")
    return module.make_step()


def steps_for(pipeline: str | Sequence[str]) -> tuple[Step, ...]:
    """The steps of ``pipeline``, in order; unknown names raise :class:`PipelineError`."""
    if is_auto(pipeline):
        raise PipelineError("pipeline 'auto' chooses its steps from the trigger; see reoptimize.job.plans")
    return tuple(load_step(name) for name in step_names(pipeline))
