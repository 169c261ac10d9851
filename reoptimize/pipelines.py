"""Pipelines by name: ``retrain``, or steps joined with ``+`` such as ``retrain+quantize``.

Step ``x`` is found in ``reoptimize/steps/x_step.py`` (its ``make_step()``), so adding a
step means adding a file.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from reoptimize.steps.base import Step

_STEP_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


class PipelineError(ValueError):
    """A pipeline name that names no known step."""


def available_steps() -> tuple[str, ...]:
    folder = Path(__file__).parent / "steps"
    return tuple(sorted(p.stem.removesuffix("_step") for p in folder.glob("*_step.py")))


def steps_for(pipeline: str) -> tuple[Step, ...]:
    """The steps of ``pipeline``, in order; unknown names raise :class:`PipelineError`."""
    if not isinstance(pipeline, str) or not pipeline.strip():
        raise PipelineError(f"pipeline {pipeline!r}: expected a name such as 'retrain'")
    steps = []
    for name in (part.strip() for part in pipeline.split("+")):
        if not _STEP_NAME.match(name) or name not in available_steps():
            known = ", ".join(available_steps())
            raise PipelineError(f"pipeline {pipeline!r}: unknown step {name!r} (known steps: {known})")
        module = importlib.import_module(f"reoptimize.steps.{name}_step")
        steps.append(module.make_step())
    return tuple(steps)
