"""Model performance from delayed labels joined by request id."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


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
    if not y_true:
        return {"accuracy": None, "f1": None}
    pred = [label_key(p) for p in y_pred]
    true = [label_key(t) for t in y_true]
    correct = sum(p == t for p, t in zip(pred, true, strict=True))
    f1s = []
    for cls in set(true) | set(pred):
        tp = sum(p == cls and t == cls for p, t in zip(pred, true, strict=True))
        fp = sum(p == cls and t != cls for p, t in zip(pred, true, strict=True))
        fn = sum(p != cls and t == cls for p, t in zip(pred, true, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return {"accuracy": correct / len(true), "f1": float(np.mean(f1s))}


def per_class_recall(y_pred: Sequence[Any], y_true: Sequence[Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    pred = [label_key(p) for p in y_pred]
    true = [label_key(t) for t in y_true]
    for cls in sorted(set(true), key=str):
        idx = [i for i, t in enumerate(true) if t == cls]
        out[_fmt(cls)] = sum(pred[i] == cls for i in idx) / len(idx)
    return out


def regression_metrics(y_pred: Sequence[Any], y_true: Sequence[Any]) -> dict[str, float | None]:
    try:
        pred = np.asarray(y_pred, dtype=np.float64)
        true = np.asarray(y_true, dtype=np.float64)
    except (TypeError, ValueError):
        return {"mae": None, "rmse": None}
    ok = np.isfinite(pred) & np.isfinite(true)
    if not ok.any():
        return {"mae": None, "rmse": None}
    err = pred[ok] - true[ok]
    return {"mae": float(np.abs(err).mean()), "rmse": float(math.sqrt((err**2).mean()))}


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
