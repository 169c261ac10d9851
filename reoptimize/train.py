"""The torch training loop: validation split, early stopping, gradient clipping, weight decay.

Training runs on the CPU with one intra-op thread and a fixed seed, so the same inputs give
the same weights. Features are standardized with training-part statistics (and regression
targets too); export puts those statistics into the ONNX graph so servers feed raw features.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reoptimize.augment import augment_dataset, build_augmentations
from reoptimize.data import DataError, sorted_classes, to_scalar
from reoptimize.recipe import build_module, factory_name
from reoptimize.settings import TrainingSettings

__all__ = ["TrainedModel", "TrainingCancelled", "TrainingSettings", "split_validation", "train_model"]

MIN_DELTA = 1e-4  # a validation loss must improve by this much to reset the patience counter


class TrainingCancelled(Exception):
    """``should_stop()`` asked the training loop to stop."""


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


def encode_labels(y: Sequence[Any] | np.ndarray, task: str, classes: Sequence[Any]) -> np.ndarray:
    if task == "regression":
        return np.asarray(y, dtype=np.float32)
    index = {to_scalar(c): i for i, c in enumerate(classes)}
    try:
        return np.array([index[to_scalar(v)] for v in y], dtype=np.int64)
    except KeyError as exc:
        raise DataError(f"label {exc.args[0]!r} is not one of the classes {list(classes)}") from None


def train_model(
    factory: Callable[..., Any] | str,
    params: Mapping[str, Any],
    X: np.ndarray,
    y: Sequence[Any] | np.ndarray,
    *,
    task: str,
    training: TrainingSettings,
    progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    classes: Sequence[Any] | None = None,
    image_shape: tuple[int, int] | None = None,
) -> TrainedModel:
    """Train a fresh module from ``factory(n_features, n_outputs, **params)`` on raw features ``X``.

    ``progress`` receives ``{epoch, max_epochs, loss, val_loss, val_accuracy, grad_norm,
    best_epoch}`` after every epoch (``grad_norm`` is the largest pre-clipping norm seen).
    ``should_stop`` is polled between batches; returning True raises :class:`TrainingCancelled`.
    Early stopping ends training after ``patience`` epochs without a better validation
    loss and restores the best weights.
    """
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(training.seed)
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise DataError(f"features must be a 2-D array, got shape {X.shape}")
    classes = (
        tuple(classes) if classes is not None else (sorted_classes(y) if task == "classification" else ())
    )
    targets = encode_labels(y, task, classes)
    train_idx, val_idx = split_validation(len(X), training.validation_fraction, training.seed)

    mean = X[train_idx].mean(axis=0)
    std = X[train_idx].std(axis=0)
    std = np.where(std < 1e-6, 1.0, std).astype(np.float32)
    augmentations = build_augmentations(training.augment, image_shape)
    rng = np.random.default_rng(training.seed + 1)
    x_train, y_train = augment_dataset(X[train_idx], targets[train_idx], augmentations, rng)
    t_mean, t_std = (
        (float(y_train.mean()), float(y_train.std() or 1.0)) if task == "regression" else (0.0, 1.0)
    )

    def tensors(xs: np.ndarray, ys: np.ndarray) -> tuple[Any, Any]:
        xt = torch.from_numpy(((xs - mean) / std).astype(np.float32))
        if task == "regression":
            return xt, torch.from_numpy(((ys - t_mean) / t_std).astype(np.float32)).reshape(-1, 1)
        return xt, torch.from_numpy(ys.astype(np.int64))

    xt, yt = tensors(x_train, y_train)
    xv, yv = tensors(X[val_idx], targets[val_idx])
    n_outputs = len(classes) if task == "classification" else 1
    module = build_module(factory, X.shape[1], n_outputs, dict(params))
    loss_fn = torch.nn.CrossEntropyLoss() if task == "classification" else torch.nn.MSELoss()
    optimizer = torch.optim.AdamW(
        module.parameters(), lr=training.learning_rate, weight_decay=training.weight_decay
    )
    generator = torch.Generator().manual_seed(training.seed)
    clip = training.clip_grad_norm if training.clip_grad_norm is not None else math.inf

    history: list[dict[str, Any]] = []
    best_loss, best_epoch, best_state, since_best = math.inf, 0, copy.deepcopy(module.state_dict()), 0
    for epoch in range(1, training.max_epochs + 1):
        module.train()
        total, grad_norm = 0.0, 0.0
        for batch in torch.randperm(len(xt), generator=generator).split(training.batch_size):
            if should_stop is not None and should_stop():
                raise TrainingCancelled(f"training stopped on request at epoch {epoch}")
            optimizer.zero_grad()
            loss = loss_fn(module(xt[batch]), yt[batch])
            loss.backward()
            norm = float(torch.nn.utils.clip_grad_norm_(module.parameters(), clip))
            grad_norm = max(grad_norm, norm)
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        val_loss, val_accuracy = _validate(module, loss_fn, xv, yv, task)
        if val_loss < best_loss - MIN_DELTA:
            best_loss, best_epoch, since_best = val_loss, epoch, 0
            best_state = copy.deepcopy(module.state_dict())
        else:
            since_best += 1
        record = {
            "epoch": epoch,
            "max_epochs": training.max_epochs,
            "loss": total / len(xt),
            "val_loss": val_loss,
            "val_accuracy": val_accuracy,
            "grad_norm": grad_norm,
            "best_epoch": best_epoch,
        }
        history.append(record)
        if progress is not None:
            progress(dict(record))
        if not math.isfinite(val_loss) or since_best >= training.patience:
            break

    module.load_state_dict(best_state)
    module.eval()
    return TrainedModel(
        module=module,
        task=task,
        classes=classes,
        feature_mean=mean.astype(np.float32),
        feature_std=std,
        factory=factory_name(factory),
        params=dict(params),
        target_mean=t_mean,
        target_std=t_std,
        history=tuple(history),
        best_epoch=best_epoch,
        best_val_loss=best_loss,
        stopped_early=len(history) < training.max_epochs,
        train_rows=len(xt),
        settings=training,
    )


def _validate(module: Any, loss_fn: Any, xv: Any, yv: Any, task: str) -> tuple[float, float | None]:
    import torch

    module.eval()
    with torch.no_grad():
        out = module(xv)
        loss = float(loss_fn(out, yv))
        accuracy = float((out.argmax(dim=1) == yv).float().mean()) if task == "classification" else None
    return loss, accuracy
