"""The ``Step`` protocol: one stage of a re-optimization pipeline.

A pipeline such as ``retrain`` or ``retrain+quantize`` runs its steps in order. Each step
receives the current model (the champion for the first step, then the previous step's
candidate) and returns a new candidate. A step may work on the ONNX graph
(``candidate.onnx_bytes``) or in torch (``candidate.trained``, or a module rebuilt from
``candidate.weights`` and ``candidate.stats``), and must always return ONNX bytes that
follow the model contract. Steps learn only from ``StepInput.train``; the holdout and the
recent evaluation rows never reach a step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from reoptimize.recipe import RecipeSpec
from reoptimize.settings import TrainingSettings


@dataclass(frozen=True)
class Candidate:
    """A model on its way through a pipeline."""

    name: str
    onnx_bytes: bytes
    task: str
    classes: tuple[Any, ...] = ()
    weights: bytes | None = None  # safetensors state_dict of the user module
    stats: Mapping[str, Any] = field(default_factory=dict)  # normalization and recipe, for the manifest
    trained: Any = None  # a reoptimize.train.TrainedModel when the step produced torch weights
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


@dataclass(frozen=True)
class StepOutput:
    candidate: Candidate
    info: Mapping[str, Any] = field(default_factory=dict)


class Step(Protocol):
    """One pipeline stage: turn the current model into a candidate."""

    name: str

    def run(self, step_input: StepInput) -> StepOutput: ...
