"""The torch training loop: validation split, early stopping, gradient clipping, weight decay.

Training runs on the CPU with one intra-op thread and a fixed seed, so the same inputs give
the same weights. Features are standardized with training-part statistics (and regression
targets too); export puts those statistics into the ONNX graph so servers feed raw features.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reoptimize.tasks.task import Task, task_named
from reoptimize.train.augment import Augmentation, augment_dataset, build_augmentations
from reoptimize.train.fit import MIN_DELTA, TrainingCancelled, fit_module
from reoptimize.train.recipe import build_module, factory_name
from reoptimize.train.settings import TrainingSettings
from reoptimize.train.tables import DataError, sorted_classes, to_scalar

__all__ = [
    "MIN_DELTA",
    "TrainedModel",
    "TrainingCancelled",
    "TrainingSettings",
    "split_validation",
    "train_model",
]


@dataclass(frozen=True)
class TrainedModel:
    """A trained torch module plus everything export and the manifest need to reproduce it."""

    module: Any  # torch.nn.Module in eval mode, holding the best validation weights
    task: str
    classes: tuple[Any, ...]
    feature_mean: np.ndarray
    feature_std: np.ndarray
    factory: str
    params: Mapping[str, Any]
    target_mean: float = 0.0
    target_std: float = 1.0
    history: tuple[Mapping[str, Any], ...] = ()
    best_epoch: int = 0
    best_val_loss: float = math.inf
    stopped_early: bool = False
    train_rows: int = 0
    settings: TrainingSettings = field(default_factory=TrainingSettings)

    @property
    def n_features(self) -> int:
        return int(self.feature_mean.shape[0])

    def stats_json(self) -> dict[str, Any]:
        """Normalization statistics and the recipe, as stored in the manifest's ``extra``."""
        return {
            "factory": self.factory,
            "params": dict(self.params),
            "feature_mean": self.feature_mean.astype(float).tolist(),
            "feature_std": self.feature_std.astype(float).tolist(),
            "target_mean": float(self.target_mean),
            "target_std": float(self.target_std),
        }


def split_validation(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic ``(train_idx, val_idx)`` for ``n`` rows; both parts are non-empty."""
    if n < 2:
        raise DataError(f"training needs at least 2 rows, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    n_val = min(n - 1, max(1, int(round(n * fraction))))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def encode_labels(y: Sequence[Any] | np.ndarray, task: str | Task, classes: Sequence[Any]) -> np.ndarray:
    """Training targets of ``task`` for labels ``y``; a label outside ``classes`` is a DataError."""
    try:
        return task_named(task).encode(y, classes)
    except KeyError as exc:
        raise DataError(
            f"label {to_scalar(exc.args[0])!r} is not one of the classes {list(classes)}"
        ) from None


def train_model(
    factory: Callable[..., Any] | str,
    params: Mapping[str, Any],
    X: np.ndarray,
    y: Sequence[Any] | np.ndarray,
    *,
    task: str | Task,
    training: TrainingSettings,
    progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    classes: Sequence[Any] | None = None,
    image_shape: tuple[int, int] | None = None,
    augmentations: Sequence[Augmentation] | None = None,
) -> TrainedModel:
    """Train a fresh module from ``factory(n_features, n_outputs, **params)`` on raw features ``X``.

    ``progress`` receives ``{epoch, max_epochs, loss, val_loss, val_accuracy, grad_norm,
    best_epoch}`` after every epoch (``grad_norm`` is the largest pre-clipping norm seen).
    ``augmentations`` are the model family's choice for ``training.augment`` (see
    :mod:`reoptimize.families`); without them the items are built for a flat feature vector,
    or flattened images of ``image_shape``.
    ``should_stop`` is polled between batches; returning True raises :class:`TrainingCancelled`.
    Early stopping ends training after ``patience`` epochs without a better validation
    loss and restores the best weights.
    """
    import torch

    kind = task_named(task)
    torch.set_num_threads(1)
    torch.manual_seed(training.seed)
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise DataError(f"features must be a 2-D array, got shape {X.shape}")
    classes = tuple(classes) if classes is not None else (sorted_classes(y) if kind.has_classes else ())
    targets = encode_labels(y, kind, classes)
    train_idx, val_idx = split_validation(len(X), training.validation_fraction, training.seed)

    mean = X[train_idx].mean(axis=0)
    std = X[train_idx].std(axis=0)
    std = np.where(std < 1e-6, 1.0, std).astype(np.float32)
    if augmentations is None:
        augmentations = build_augmentations(training.augment, image_shape)
    rng = np.random.default_rng(training.seed + 1)
    x_train, y_train = augment_dataset(X[train_idx], targets[train_idx], augmentations, rng)
    t_mean, t_std = kind.target_scaling(y_train)

    def tensors(xs: np.ndarray, ys: np.ndarray) -> tuple[Any, Any]:
        xt = torch.from_numpy(((xs - mean) / std).astype(np.float32))
        return xt, kind.target_tensor(ys, t_mean, t_std)

    xt, yt = tensors(x_train, y_train)
    xv, yv = tensors(X[val_idx], targets[val_idx])
    module = build_module(factory, X.shape[1], kind.n_outputs(classes), dict(params))
    loss_fn = kind.loss()
    fit = fit_module(
        module,
        loss_fn,
        (xt, yt),
        (xv, yv),
        settings=training,
        classify=kind.has_classes,
        progress=progress,
        should_stop=should_stop,
    )
    return TrainedModel(
        module=module,
        task=kind.name,
        classes=classes,
        feature_mean=mean.astype(np.float32),
        feature_std=std,
        factory=factory_name(factory),
        params=dict(params),
        target_mean=t_mean,
        target_std=t_std,
        history=fit.history,
        best_epoch=fit.best_epoch,
        best_val_loss=fit.best_val_loss,
        stopped_early=fit.stopped_early,
        train_rows=len(xt),
        settings=training,
    )


def standardized(trained: TrainedModel, x: np.ndarray) -> Any:
    """``x`` (raw features) as the float32 tensor the module expects."""
    import torch

    return torch.from_numpy((np.asarray(x, dtype=np.float32) - trained.feature_mean) / trained.feature_std)
