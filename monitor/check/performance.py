"""Model performance from delayed labels joined by request id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from reoptimize.tasks.classification import TASK as _CLASSIFICATION
from reoptimize.tasks.classification import per_class_recall as _recall
from reoptimize.tasks.regression import TASK as _REGRESSION


def label_key(value: Any) -> Any:
    """Compare labels across JSON types: 3, 3.0 and "3" are the same class."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return str(value)


def join_labels(
    request_ids: Sequence[str], predictions: Sequence[Any], labels: Mapping[str, Any]
) -> tuple[list[Any], list[Any]]:
    y_pred, y_true = [], []
    for rid, pred in zip(request_ids, predictions, strict=True):
        if rid in labels:
            y_pred.append(pred)
            y_true.append(labels[rid])
    return y_pred, y_true


def classification_metrics(y_pred: Sequence[Any], y_true: Sequence[Any]) -> dict[str, float | None]:
    """Accuracy and macro F1 of joined labels (see :func:`label_key`); None without labels."""
    if not y_true:
        return {"accuracy": None, "f1": None}
    return dict(_CLASSIFICATION.quality([label_key(p) for p in y_pred], [label_key(t) for t in y_true]))


def per_class_recall(y_pred: Sequence[Any], y_true: Sequence[Any]) -> dict[str, float]:
    recall = _recall([label_key(p) for p in y_pred], [label_key(t) for t in y_true])
    return {_fmt(cls): value for cls, value in recall.items()}


def regression_metrics(y_pred: Sequence[Any], y_true: Sequence[Any]) -> dict[str, float | None]:
    try:
        pred = np.asarray(y_pred, dtype=np.float64)
        true = np.asarray(y_true, dtype=np.float64)
    except (TypeError, ValueError):
        return {"mae": None, "rmse": None}
    ok = np.isfinite(pred) & np.isfinite(true)
    if not ok.any():
        return {"mae": None, "rmse": None}
    return dict(_REGRESSION.quality(pred[ok].tolist(), true[ok].tolist()))


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
