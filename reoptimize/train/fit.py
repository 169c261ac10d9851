"""The epoch loop shared by training, fine-tuning and distillation.

One loop, so early stopping, gradient clipping, cancellation and progress behave the same
whether a module is trained from scratch, fine-tuned after pruning, or taught by a teacher.
The caller prepares tensors (already standardized) and a loss; the loop keeps the weights of
the best validation epoch.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reoptimize.train.settings import TrainingSettings

MIN_DELTA = 1e-4  # a validation loss must improve by this much to reset the patience counter


class TrainingCancelled(Exception):
    """``should_stop()`` asked the training loop to stop."""


@dataclass(frozen=True)
class FitResult:
    history: tuple[Mapping[str, Any], ...]
    best_epoch: int
    best_val_loss: float
    stopped_early: bool
    max_epochs: int


def fit_module(
    module: Any,
    loss_fn: Callable[..., Any],
    train: Sequence[Any],
    val: Sequence[Any],
    *,
    settings: TrainingSettings,
    classify: bool,
    val_loss_fn: Callable[..., Any] | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_epochs: int | None = None,
) -> FitResult:
    """Train ``module`` in place on ``train = (x, *targets)``; validate on ``val = (x, *targets)``.

    ``loss_fn(output, *targets)`` is the training loss of one batch; ``val_loss_fn`` (default
    ``loss_fn``) the validation loss. For classifiers ``val[1]`` holds class indices and the
    record gets ``val_accuracy``. Uses AdamW with the settings' learning rate and weight decay,
    clips the gradient norm, stops after ``patience`` epochs without a better validation loss
    and leaves the best weights in ``module`` (in eval mode).
    """
    import torch

    xt, *targets = train
    xv, *val_targets = val
    epochs = max_epochs if max_epochs is not None else settings.max_epochs
    val_loss_fn = val_loss_fn or loss_fn
    optimizer = torch.optim.AdamW(
        module.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    generator = torch.Generator().manual_seed(settings.seed)
    clip = settings.clip_grad_norm if settings.clip_grad_norm is not None else math.inf

    history: list[dict[str, Any]] = []
    best_loss, best_epoch, since_best = math.inf, 0, 0
    best_state = copy.deepcopy(module.state_dict())
    for epoch in range(1, epochs + 1):
        module.train()
        total, grad_norm = 0.0, 0.0
        for batch in torch.split(torch.randperm(len(xt), generator=generator), settings.batch_size):
            if should_stop is not None and should_stop():
                raise TrainingCancelled(f"training stopped on request at epoch {epoch}")
            optimizer.zero_grad()
            loss = loss_fn(module(xt[batch]), *(t[batch] for t in targets))
            loss.backward()
            norm = float(torch.nn.utils.clip_grad_norm_(module.parameters(), clip))
            grad_norm = max(grad_norm, norm)
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        val_loss, val_accuracy = _validate(module, val_loss_fn, xv, val_targets, classify)
        if val_loss < best_loss - MIN_DELTA:
            best_loss, best_epoch, since_best = val_loss, epoch, 0
            best_state = copy.deepcopy(module.state_dict())
        else:
            since_best += 1
        record = {
            "epoch": epoch,
            "max_epochs": epochs,
            "loss": total / max(1, len(xt)),
            "val_loss": val_loss,
            "val_accuracy": val_accuracy,
            "grad_norm": grad_norm,
            "best_epoch": best_epoch,
        }
        history.append(record)
        if progress is not None:
            progress(dict(record))
        if not math.isfinite(val_loss) or since_best >= settings.patience:
            break
    module.load_state_dict(best_state)
    module.eval()
    return FitResult(
        history=tuple(history),
        best_epoch=best_epoch,
        best_val_loss=best_loss,
        stopped_early=len(history) < epochs,
        max_epochs=epochs,
    )


def _validate(
    module: Any, loss_fn: Callable[..., Any], xv: Any, targets: Sequence[Any], classify: bool
) -> tuple[float, float | None]:
    import torch

    module.eval()
    with torch.no_grad():
        out = module(xv)
        loss = float(loss_fn(out, *targets))
        accuracy = float((out.argmax(dim=1) == targets[0]).float().mean()) if classify else None
    return loss, accuracy
