"""The ``Task`` protocol: what a model predicts, and everything that follows from it.

Manifests, configs and JSON name a task by its plain string (``task: classification``); code
turns that name into a task object at the boundary with :func:`task_named` and then asks the
object instead of comparing strings. A task knows:

* its labels: how they are checked, encoded into training targets and scaled;
* its loss and its output head (torch, imported late): what a module's raw outputs become in
  the exported graph, and how an ONNX model's outputs become a :class:`Prediction`;
* its quality metrics (accuracy and F1, or MAE and RMSE) and its primary metric, in which a
  step's quality budget and the train/holdout gap are measured;
* its selection metrics: the quality axis of the Pareto front and the guard a compression
  goal puts on quality;
* the basis of a drift's impact: accuracy drop, or relative error increase.

Task ``x`` lives in ``reoptimize/tasks/x.py`` as its ``TASK``, so adding a task means adding a
file. This module imports numpy only; torch and pandas are imported inside the methods that
need them, so the daemon can use tasks for drift impact and label metrics.

Example::

    task = task_named(manifest.task)
    prediction = task.read_outputs(session.run(None, feeds), len(rows), classes)
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

_NAME = re.compile(r"^[a-z][a-z_]{0,40}\Z")
_NOT_TASKS = frozenset({"task", "__init__"})


class TaskError(ValueError):
    """A task name that names no task, or model outputs that do not fit the task's head."""


@dataclass(frozen=True)
class Prediction:
    """What a model says about ``N`` rows: a label (or value) per row, and class probabilities."""

    labels: list[Any]
    proba: np.ndarray | None  # [N, C] float, or None for regressors
    classes: tuple[Any, ...] = ()  # the class of each column of ``proba``, when known


@runtime_checkable
class Task(Protocol):
    """What a model predicts. Every method takes and returns plain values; see the module doc."""

    name: str
    # The model answers with one of a fixed list of classes (the manifest's ``classes``),
    # with a probability for each; such a task has classes, confidences and pseudo-labels.
    has_classes: bool
    primary_metric: str  # the metric of quality budgets and fit gaps: "accuracy" or "rmse"
    output_name: str  # the output of graphs that modelhealthd exports
    impact_basis: str  # what a drift impact measures with labels: "accuracy_drop" or "rmse_increase"

    # --- labels and targets
    def label_problem(self, labels: Any, column: str) -> str | None:
        """Why a pandas Series of labels cannot train this task, or None."""
        ...

    def encode(self, labels: Sequence[Any] | np.ndarray, classes: Sequence[Any]) -> np.ndarray:
        """Training targets for ``labels``: class indices, or float values. Raises KeyError
        (its argument the label) for a label that is not one of ``classes``."""
        ...

    def target_scaling(self, targets: np.ndarray) -> tuple[float, float]:
        """``(mean, std)`` by which targets are standardized for training; ``(0, 1)`` for none."""
        ...

    def n_outputs(self, classes: Sequence[Any]) -> int:
        """How many outputs the user's module has."""
        ...

    # --- torch, imported late
    def loss(self) -> Any:
        """A fresh torch loss for module outputs against :meth:`target_tensor` targets."""
        ...

    def target_tensor(self, targets: np.ndarray, mean: float, std: float) -> Any:
        """``targets`` (from :meth:`encode`) as the torch tensor :meth:`loss` expects."""
        ...

    def serving_head(self, out: Any, mean: float, std: float) -> Any:
        """The exported graph's output for module outputs ``out``: probabilities, or values."""
        ...

    # --- ONNX outputs
    def read_outputs(self, outputs: Sequence[Any], n: int, classes: Sequence[Any]) -> Prediction:
        """An ONNX Runtime result for ``n`` rows as a :class:`Prediction`; TaskError when no
        output fits (the message says what was looked for)."""
        ...

    # --- quality
    def quality(self, predicted: Sequence[Any], truth: Sequence[Any]) -> dict[str, float]:
        """The task's quality metrics of ``predicted`` against ``truth`` (both non-empty, labels
        already made comparable by the caller): ``accuracy``/``f1`` or ``mae``/``rmse``."""
        ...

    def score(self, predicted: Sequence[Any], truth: Sequence[Any]) -> float:
        """The primary metric alone."""
        ...

    def quality_loss(self, before: float, after: float) -> float:
        """What going from primary metric ``before`` to ``after`` cost: accuracy points lost, or
        the relative RMSE increase. Negative when quality improved."""
        ...

    def fit_gap(self, train: float, holdout: float) -> float:
        """How much better the primary metric is on training rows than on the holdout."""
        ...

    # --- selection
    def selection_axis(self) -> tuple[str, bool]:
        """The quality axis of the Pareto front: ``(candidate metric, higher_is_better)``."""
        ...

    def quality_guard(self, budget: float) -> str:
        """The policy constraint that lets a compressed candidate lose at most ``budget`` quality."""
        ...

    # --- drift impact
    def prediction_values(self, labels: Sequence[Any], key: Callable[[Any], Any]) -> np.ndarray:
        """Predictions as an array that :meth:`score` and :meth:`changed_share` compare;
        ``key`` makes class labels comparable (the daemon's rule: 3, 3.0 and "3" are one class)."""
        ...

    def truth_values(self, labels: Sequence[Any], key: Callable[[Any], Any]) -> tuple[np.ndarray, np.ndarray]:
        """``(values, usable)`` of labels aligned with rows (``None`` where a row has none)."""
        ...

    def impact(self, before: float, after: float) -> float:
        """A drift's impact from the primary metric before and after shuffling, never below 0."""
        ...

    def changed_share(self, base: np.ndarray, shuffled: np.ndarray, prediction_std: float | None) -> float:
        """The share of predictions that changed (a value changes by more than a tenth of the
        reference predictions' spread)."""
        ...


def task_names() -> tuple[str, ...]:
    """The names of every task, one per module in this folder."""
    folder = Path(__file__).parent
    return tuple(sorted(p.stem for p in folder.glob("*.py") if p.stem not in _NOT_TASKS))


@cache
def _load(name: str) -> Task:
    task = importlib.import_module(f"reoptimize.tasks.{name}").TASK
    if not isinstance(task, Task) or task.name != name:
        raise TaskError(f"reoptimize/tasks/{name}.py: TASK is not a Task named {name!r}")
    return task


def task_named(name: str | Task, where: str = "task") -> Task:
    """The task called ``name`` (a task object is returned as it is).

    Raises :class:`TaskError` naming ``where``, the value and the known tasks.
    """
    if not isinstance(name, str) and isinstance(name, Task):
        return name
    known = task_names()
    if not isinstance(name, str) or not _NAME.match(name) or name not in known:
        raise TaskError(f"{where}: got {name!r}; expected {' or '.join(map(repr, known))}")
    return _load(name)


def scalar(value: Any) -> Any:
    """A NumPy scalar as the plain Python value that JSON and manifests hold."""
    return value.item() if isinstance(value, np.generic) else value
