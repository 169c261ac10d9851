"""Fine-tuning an existing module on the task (after pruning), with the shared epoch loop."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from reoptimize.tasks.task import Task, task_named
from reoptimize.train.fit import FitResult, fit_module
from reoptimize.train.settings import TrainingSettings
from reoptimize.train.trainer import TrainedModel, encode_labels, split_validation, standardized


def task_tensors(
    trained: TrainedModel, x: np.ndarray, y: Sequence[Any] | np.ndarray, settings: TrainingSettings
) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """``(train, val)`` tensors for ``trained``'s task, standardized with its own statistics."""
    task = task_named(trained.task)
    targets = encode_labels(y, task, trained.classes)
    train_idx, val_idx = split_validation(len(x), settings.validation_fraction, settings.seed)
    xs = standardized(trained, x)

    def target(idx: np.ndarray) -> Any:
        return task.target_tensor(targets[idx], trained.target_mean, trained.target_std)

    return (xs[train_idx], target(train_idx)), (xs[val_idx], target(val_idx))


def task_loss(task: str | Task) -> Any:
    """A fresh torch loss of ``task``."""
    return task_named(task).loss()


def fine_tune(
    trained: TrainedModel,
    x: np.ndarray,
    y: Sequence[Any] | np.ndarray,
    *,
    settings: TrainingSettings,
    epochs: int,
    progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[TrainedModel, FitResult]:
    """Train ``trained.module`` further (in place) on raw rows ``x``/``y``; keep the best epoch."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(settings.seed)
    train, val = task_tensors(trained, x, y, settings)
    fit = fit_module(
        trained.module,
        task_loss(trained.task),
        train,
        val,
        settings=settings,
        classify=task_named(trained.task).has_classes,
        progress=progress,
        should_stop=should_stop,
        max_epochs=epochs,
    )
    return replace(
        trained, history=fit.history, best_epoch=fit.best_epoch, best_val_loss=fit.best_val_loss
    ), fit
