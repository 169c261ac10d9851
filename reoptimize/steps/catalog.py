"""The steps of a re-optimization pipeline, and the one grammar that names pipelines.

A pipeline is ``auto`` (which chooses candidates from the trigger, see
:mod:`reoptimize.job.plans`), one step (``retrain``), or steps in order: joined with ``+``,
``->``, ``→`` or ``,`` (``retrain+quantize``, ``retrain -> quantize``, ``retrain, quantize``),
or given as a list (YAML ``[retrain, quantize]``). Every form normalizes to the name jobs
store: the steps joined with ``+``. Rule files, the API's trigger and the command line all
parse pipelines here (``rules`` receives :data:`CATALOG` as its ``PipelineCatalog``), so they
accept the same forms and refuse an unknown step with the same message.

Step ``x`` is ``make_step()`` of ``reoptimize/steps/x_step.py``, listed in :data:`STEPS`; it
declares its ``needs`` and ``budget_share`` (see :class:`reoptimize.steps.step.Step`), which
the worker and the job read from here. Adding a step means adding its file and its name.

    >>> CATALOG.normalize("retrain, quantize")
    'retrain+quantize'
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Collection, Sequence
from functools import cache

from reoptimize.steps.step import NEEDS, Step

AUTO = "auto"
# The steps, in the order messages list them.
STEPS: tuple[str, ...] = ("retrain", "prune", "quantize", "distill", "tune", "export")
# Share of a job's timeout for building candidates: the rest is for measuring them against the
# champion, gating and staging, so that a job ends before its timeout. Each step's own
# ``budget_share`` then divides the build time among the steps of a plan.
BUILD_SHARE_OF_TIMEOUT = 0.6
_SPLIT = re.compile(r"\s*(?:\+|->|→|,)\s*")
_FORMS = "steps joined with '+', '->' or ',' such as retrain+quantize"


class PipelineError(ValueError):
    """A pipeline that names no known step; the message names the unknown part."""


@cache
def _load(name: str) -> Step:
    step: Step = importlib.import_module(f"reoptimize.steps.{name}_step").make_step()
    if step.name != name or not step.needs <= NEEDS:
        raise PipelineError(
            f"reoptimize/steps/{name}_step.py: make_step() gives {step.name!r} needing {sorted(step.needs)}"
        )
    return step


class StepCatalog:
    """The known steps: their declarations, and pipelines parsed and checked against them."""

    def __init__(self, names: Sequence[str] = STEPS):
        self._names = tuple(names)

    def names(self) -> tuple[str, ...]:
        """Every step name, in the order messages list them."""
        return self._names

    def job_kinds(self) -> tuple[str, ...]:
        """The single names that start a job: every step, and ``auto``."""
        return (*self._names, AUTO)

    def step(self, name: str) -> Step:
        """The step called ``name``; :class:`PipelineError` for an unknown one."""
        if name not in self._names:
            raise PipelineError(self._unknown(name, [name]))
        return _load(name)

    def normalize(self, value: object, *, extra: Collection[str] = ()) -> str:
        """``value`` (any form in the module doc) as the stored pipeline name.

        ``extra`` are single-name pipelines of the caller's own (rules' ``notify``), accepted
        alone and listed in messages. Raises :class:`PipelineError` naming the unknown step.
        """
        parts = self._parts(value, extra)
        if len(parts) == 1 and parts[0] in (AUTO, *extra):
            return parts[0]
        if AUTO in parts or any(p in extra for p in parts):
            chained = next(p for p in parts if p == AUTO or p in extra)
            raise PipelineError(f"{chained!r} is a pipeline of its own and cannot be chained with steps")
        unknown = next((p for p in parts if p not in self._names), None)
        if unknown is not None:
            raise PipelineError(self._unknown(unknown, parts, extra))
        return "+".join(parts)

    def step_names(self, pipeline: object) -> tuple[str, ...]:
        """The steps of an explicit pipeline, in order; ``auto`` names none."""
        if self.normalize(pipeline) == AUTO:
            raise PipelineError(
                "pipeline 'auto' chooses its steps from the trigger; see reoptimize.job.plans"
            )
        return tuple(self.normalize(pipeline).split("+"))

    def starts_job(self, name: str) -> bool:
        """Whether pipeline ``name`` is one a job runs (``auto`` or known steps)."""
        try:
            self.normalize(name)
        except PipelineError:
            return False
        return True

    def needs(self, pipeline: object) -> frozenset[str]:
        """What the pipeline's steps need together; ``auto`` may run any step."""
        names = self._names if self.normalize(pipeline) == AUTO else self.step_names(pipeline)
        return frozenset().union(*(self.step(n).needs for n in names))

    def steps_needing(self, need: str) -> frozenset[str]:
        """The names of the steps that declare ``need``."""
        return frozenset(n for n in self._names if need in self.step(n).needs)

    def _parts(self, value: object, extra: Collection[str]) -> list[str]:
        if isinstance(value, str):
            parts = _SPLIT.split(value.strip()) if value.strip() else []
        elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            parts = [v.strip() for v in value]
        else:
            parts = []
        if not parts:
            alone = ", ".join((AUTO, *extra))
            raise PipelineError(
                f"expected a step such as retrain, {_FORMS}, a list of steps, or one of {alone}"
            )
        return parts

    def _unknown(self, name: str, parts: Sequence[str], extra: Collection[str] = ()) -> str:
        if len(parts) == 1:
            choices = (*self._names, AUTO, *extra)
            close = difflib.get_close_matches(name, choices, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            return f"expected one of {', '.join(choices)}, or {_FORMS}{hint}"
        close = difflib.get_close_matches(name, self._names, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        return f"unknown step {name!r} (known steps: {', '.join(self._names)}){hint}"


CATALOG = StepCatalog()


def available_steps() -> tuple[str, ...]:
    """Every step name (see :data:`STEPS`)."""
    return CATALOG.names()


def step_names(pipeline: object) -> tuple[str, ...]:
    """The step names of ``pipeline`` (any form in the module doc), checked."""
    return CATALOG.step_names(pipeline)


def is_auto(pipeline: object) -> bool:
    return isinstance(pipeline, str) and pipeline.strip() == AUTO


def load_step(name: str) -> Step:
    return CATALOG.step(name)


def steps_for(pipeline: object) -> tuple[Step, ...]:
    """The steps of ``pipeline``, in order; unknown names raise :class:`PipelineError`."""
    return tuple(load_step(name) for name in step_names(pipeline))
