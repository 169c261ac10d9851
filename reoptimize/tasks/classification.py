"""Classification: one of a fixed list of classes, with a probability for each.

Modules output logits ``[N, C]``, trained with cross-entropy; exported graphs output their
softmax as ``probabilities``. Quality is accuracy and macro F1; a budget is in accuracy
points; the Pareto front keeps the higher holdout accuracy; a drift's impact is the accuracy
it costs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from reoptimize.tasks.task import Prediction, Task, TaskError, scalar


def macro_f1(truth: Sequence[Any], predicted: Sequence[Any]) -> float:
    """Unweighted mean of per-class F1 over every label seen in either sequence."""
    t = np.array(list(truth), dtype=object)
    p = np.array(list(predicted), dtype=object)
    scores = []
    for label in set(t.tolist()) | set(p.tolist()):
        tp = int(np.sum((t == label) & (p == label)))
        fp = int(np.sum((t != label) & (p == label)))
        fn = int(np.sum((t == label) & (p != label)))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def per_class_recall(predicted: Sequence[Any], truth: Sequence[Any]) -> dict[Any, float]:
    """Recall of every class that occurs in ``truth``, keyed by the class value."""
    out: dict[Any, float] = {}
    pred, true = list(predicted), list(truth)
    for cls in sorted(set(true), key=str):
        idx = [i for i, t in enumerate(true) if t == cls]
        out[cls] = sum(pred[i] == cls for i in idx) / len(idx)
    return out


class ClassificationTask:
    """Labels from a fixed list of classes; see the module doc."""

    name = "classification"
    has_classes = True
    primary_metric = "accuracy"
    output_name = "probabilities"
    impact_basis = "accuracy_drop"

    def label_problem(self, labels: Any, column: str) -> str | None:
        seen = labels.unique()
        if len(seen) < 2:
            return (
                f"label {column!r} has a single class ({scalar(seen[0])!r}); a classifier needs at least two"
            )
        return None

    def encode(self, labels: Sequence[Any] | np.ndarray, classes: Sequence[Any]) -> np.ndarray:
        index = {scalar(c): i for i, c in enumerate(classes)}
        return np.array([index[scalar(v)] for v in labels], dtype=np.int64)

    def target_scaling(self, targets: np.ndarray) -> tuple[float, float]:
        return 0.0, 1.0

    def n_outputs(self, classes: Sequence[Any]) -> int:
        return len(classes)

    def loss(self) -> Any:
        import torch

        return torch.nn.CrossEntropyLoss()

    def target_tensor(self, targets: np.ndarray, mean: float, std: float) -> Any:
        import torch

        return torch.from_numpy(targets.astype(np.int64))

    def serving_head(self, out: Any, mean: float, std: float) -> Any:
        import torch

        return torch.softmax(out, dim=1)

    def read_outputs(self, outputs: Sequence[Any], n: int, classes: Sequence[Any]) -> Prediction:
        # Our own graphs output probabilities only; scikit-learn's converters emit labels, and
        # probabilities as a float tensor or as a seq(map) keyed by class.
        proba, labels, names = None, None, list(classes)
        for out in outputs:
            if isinstance(out, list) and out and isinstance(out[0], dict):
                keys = sorted(out[0])
                proba = np.array([[row[k] for k in keys] for row in out], dtype=np.float32)
                names = names or keys
                continue
            arr = np.asarray(out)
            if arr.ndim == 2 and arr.shape[1] > 1 and arr.dtype.kind == "f" and proba is None:
                proba = arr.astype(np.float32, copy=False)
            elif arr.ndim == 1 and arr.shape[0] == n and arr.dtype.kind in "iuUOb":
                labels = arr.tolist()
        if labels is None:
            if proba is None:
                raise TaskError("no probabilities [N, C] or labels [N] among its outputs")
            index = proba.argmax(axis=1)
            labels = [names[i] for i in index] if names else index.tolist()
        return Prediction(labels=labels, proba=proba, classes=tuple(names))

    def quality(self, predicted: Sequence[Any], truth: Sequence[Any]) -> dict[str, float]:
        return {"accuracy": self.score(predicted, truth), "f1": macro_f1(truth, predicted)}

    def score(self, predicted: Sequence[Any], truth: Sequence[Any]) -> float:
        return float(np.mean([a == b for a, b in zip(predicted, truth, strict=True)]))

    def quality_loss(self, before: float, after: float) -> float:
        return before - after

    def fit_gap(self, train: float, holdout: float) -> float:
        return train - holdout

    def selection_axis(self) -> tuple[str, bool]:
        return "holdout_accuracy", True

    def quality_guard(self, budget: float) -> str:
        return f"holdout_accuracy >= champion.holdout_accuracy - {float(budget)!r}"

    def prediction_values(self, labels: Sequence[Any], key: Callable[[Any], Any]) -> np.ndarray:
        return np.array([key(v) for v in labels], dtype=object)

    def truth_values(self, labels: Sequence[Any], key: Callable[[Any], Any]) -> tuple[np.ndarray, np.ndarray]:
        usable = np.array([v is not None for v in labels], dtype=bool)
        return np.array([key(v) if v is not None else None for v in labels], dtype=object), usable

    def impact(self, before: float, after: float) -> float:
        return max(0.0, before - after)

    def changed_share(self, base: np.ndarray, shuffled: np.ndarray, prediction_std: float | None) -> float:
        return float(np.mean(shuffled != base))


TASK: Task = ClassificationTask()
