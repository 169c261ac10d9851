"""Accuracy from labels joined by request id, across the JSON and NumPy types labels arrive in."""

import numpy as np
import pytest

from monitor.check.performance import (
    classification_metrics,
    join_labels,
    per_class_recall,
    regression_metrics,
)


def test_numpy_predictions_match_json_labels() -> None:
    preds = np.array([3, 1, 2, 2], dtype=np.int64)
    y_pred, y_true = join_labels(["a", "b", "c", "d"], preds, {"a": 3, "b": "1", "c": 2.0, "z": 9})
    assert len(y_true) == 3
    assert classification_metrics(y_pred, y_true)["accuracy"] == 1.0


def test_f1_and_recall_per_class() -> None:
    y_pred, y_true = ["x", "x", "y", "y"], ["x", "y", "y", "y"]
    m = classification_metrics(y_pred, y_true)
    assert m["accuracy"] == 0.75
    assert m["f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert per_class_recall(y_pred, y_true) == {"x": 1.0, "y": 2 / 3}


def test_regression_errors_and_empty_input() -> None:
    assert regression_metrics([1.0, 3.0], [2.0, 3.0]) == {"mae": 0.5, "rmse": pytest.approx(0.5**0.5)}
    assert classification_metrics([], []) == {"accuracy": None, "f1": None}
