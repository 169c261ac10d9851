"""The ``Step`` protocol: one stage of a re-optimization pipeline.

A pipeline such as ``retrain`` or ``retrain+quantize`` runs its steps in order. Each step
receives the current model (the champion for the first step, then the previous step's
candidate) and returns a new candidate. A step may work on the ONNX graph
(``candidate.onnx_bytes``) or in torch (``candidate.trained``, or a module rebuilt from
``candidate.weights`` and ``candidate.stats``), and must always return ONNX bytes that
follow the model contract. Steps learn only from ``StepInput.train`` (labelled) and
``StepInput.traffic`` (recent rows without their labels, for calibration and for a teacher
to label); the holdout and the recent evaluation rows never reach a step.

A step reads its parameters with :func:`step_params`: the action's ``with:`` mapping, where a
key named after the step (``{"prune": {"amount": 0.7}}``) holds settings for that step only.
A step that finds its candidate should not ship (pruned but not faster, say) puts the reason
in ``StepOutput.veto``; the job then rejects the candidate with that reason.

Every step declares, as attributes, its ``name``, what it ``needs`` (a subset of
:data:`NEEDS`) and its ``budget_share`` of the job's time; the catalog
(:mod:`reoptimize.steps.catalog`) lists the steps and reads these declarations, so a job can
tell before it starts whether a model registered without a recipe, without torch weights or
of a family without torch can run a pipeline. A step module imports nothing heavy at the top
(torch, onnxruntime and pandas inside ``run``): the daemon reads the declarations.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from reoptimize.families.family import ModelFamily, StepError
from reoptimize.train.recipe import RecipeSpec
from reoptimize.train.settings import TrainingSettings

if TYPE_CHECKING:
    import pandas as pd

    from reoptimize.train.trainer import TrainedModel

__all__ = [
    "NEEDS",
    "RECIPE",
    "TORCH",
    "TRAFFIC",
    "WEIGHTS",
    "Candidate",
    "Step",
    "StepError",
    "StepInput",
    "StepOutput",
    "require_family",
    "step_params",
]

# What a step may need, as declared in its ``needs``:
RECIPE = "recipe"  # the model's recipe: its factory and training settings (not the default MLP one)
TORCH = "torch"  # the recipe's family has torch modules: the step trains or rebuilds one
WEIGHTS = "weights"  # the current model's own torch weights, to start from
TRAFFIC = "traffic"  # recent traffic without labels (calibration, a teacher's transfer set); only
# steps that declare it receive ``StepInput.traffic``, and they work without it too
NEEDS = frozenset({RECIPE, TORCH, WEIGHTS, TRAFFIC})


@dataclass(frozen=True)
class Candidate:
    """A model on its way through a pipeline."""

    name: str
    onnx_bytes: bytes
    task: str
    classes: tuple[Any, ...] = ()
    weights: bytes | None = None  # safetensors state_dict of the user module
    stats: Mapping[str, Any] = field(default_factory=dict)  # normalization and recipe, for the manifest
    trained: TrainedModel | None = None  # set when the step produced torch weights
    info: Mapping[str, Any] = field(default_factory=dict)  # facts about how it was made


@dataclass(frozen=True)
class StepInput:
    current: Candidate
    train: pd.DataFrame
    features: tuple[str, ...]
    label: str
    recipe: RecipeSpec
    training: TrainingSettings
    params: Mapping[str, Any] = field(default_factory=dict)  # the rule action's ``with:``
    progress: Callable[[dict[str, Any]], None] = lambda event: None
    should_stop: Callable[[], bool] = lambda: False
    traffic: pd.DataFrame | None = None  # recent feature rows, labels removed; ``_source`` says which
    clock: Callable[[], float] = time.monotonic

    def unlabelled(self) -> pd.DataFrame | None:
        """The traffic rows that never had a label (not the recent rows already in ``train``)."""
        if self.traffic is None or "_source" not in self.traffic.columns:
            return self.traffic
        return self.traffic[self.traffic["_source"] == "unlabelled"]


@dataclass(frozen=True)
class StepOutput:
    candidate: Candidate
    info: Mapping[str, Any] = field(default_factory=dict)
    veto: str | None = None  # why this candidate must not be promoted, when the step knows


def step_params(params: Mapping[str, Any], step: str, known: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of ``step``: ``known`` defaults, overridden by top-level keys, then by ``params[step]``.

    Only keys in ``known`` are taken from the top level (other steps' keys live there too);
    an unknown key inside ``params[step]`` is an error naming it.
    """
    out = dict(known)
    out.update({k: v for k, v in params.items() if k in known})
    own = params.get(step)
    if own is None:
        return out
    if not isinstance(own, Mapping):
        raise StepError(f"with.{step}: got {own!r}; expected a mapping of {step} settings")
    unknown = sorted(set(own) - set(known))
    if unknown:
        raise StepError(f"with.{step}: unknown setting(s) {unknown}; expected some of {sorted(known)}")
    out.update(own)
    return out


class Step(Protocol):
    """One pipeline stage: turn the current model into a candidate.

    ``name`` is how pipelines name the step. ``needs`` is a subset of :data:`NEEDS`.
    ``budget_share`` is the largest share of the job's remaining build time the step may take,
    given to it as ``with.<name>.time_budget`` (so that later steps and the measurement still
    have time), or None for a step without a time limit of its own.
    """

    name: str
    needs: frozenset[str]
    budget_share: float | None

    def run(self, step_input: StepInput) -> StepOutput: ...


def require_family(step: Step, family: ModelFamily) -> None:
    """Raise :class:`StepError` when ``family`` cannot give ``step`` what it ``needs``."""
    if TORCH in step.needs and not family.torch_weights:
        raise StepError(
            f"{step.name}: the {family.name} family has no torch weights, and {step.name} trains or "
            "rebuilds torch modules"
        )
