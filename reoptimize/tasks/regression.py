"""Regression: one number per row.

Modules output ``[N, 1]``, trained with mean squared error on standardized targets; exported
graphs undo the scaling and output ``value`` ``[N]``. Quality is MAE and RMSE; a budget is a
relative RMSE increase; the Pareto front keeps the lower RMSE; a drift's impact is the
relative RMSE increase it causes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from reoptimize.tasks.task import Prediction, Task, TaskError


class RegressionTask:
    """Numeric targets; see the module doc."""

    name = "regression"
    has_classes = False
    primary_metric = "rmse"
    output_name = "value"
    impact_basis = "rmse_increase"

    def label_problem(self, labels: Any, column: str) -> str | None:
        import pandas as pd

        if not pd.api.types.is_numeric_dtype(labels):
            return f"label {column!r} has dtype {labels.dtype}; a regressor needs numeric labels"
        bad = ~np.isfinite(labels.to_numpy(dtype=np.float64))
        if bad.any():
            return f"label {column!r} has {int(bad.sum())} inf value(s); expected finite numbers"
        return None

    def encode(self, labels: Sequence[Any] | np.ndarray, classes: Sequence[Any]) -> np.ndarray:
        return np.asarray(labels, dtype=np.float32)

    def target_scaling(self, targets: np.ndarray) -> tuple[float, float]:
        return float(targets.mean()), float(targets.std() or 1.0)

    def n_outputs(self, classes: Sequence[Any]) -> int:
        return 1

    def loss(self) -> Any:
        import torch

        return torch.nn.MSELoss()

    def target_tensor(self, targets: np.ndarray, mean: float, std: float) -> Any:
        import torch

        return torch.from_numpy(((targets - mean) / std).astype(np.float32)).reshape(-1, 1)

    def serving_head(self, out: Any, mean: float, std: float) -> Any:
        return out.reshape(-1) * std + mean

    def read_outputs(self, outputs: Sequence[Any], n: int, classes: Sequence[Any]) -> Prediction:
        for out in outputs:
            arr = np.asarray(out)
            if arr.dtype.kind == "f" and arr.shape[0] == n and arr.size == n:
                return Prediction(labels=arr.reshape(n).astype(float).tolist(), proba=None)
        raise TaskError("no float output of shape [N] or [N, 1] for a regressor")

    def quality(self, predicted: Sequence[Any], truth: Sequence[Any]) -> dict[str, float]:
        err = np.asarray(predicted, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
        return {"mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err**2)))}

    def score(self, predicted: Sequence[Any], truth: Sequence[Any]) -> float:
        err = np.asarray(predicted, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
        return float(np.sqrt(np.mean(err**2)))

    def quality_loss(self, before: float, after: float) -> float:
        return (after - before) / before if before > 0 else after - before

    def fit_gap(self, train: float, holdout: float) -> float:
        return holdout - train

    def selection_axis(self) -> tuple[str, bool]:
        return "rmse", False

    def quality_guard(self, budget: float) -> str:
        return f"rmse <= champion.rmse * (1 + {float(budget)!r})"

    def prediction_values(self, labels: Sequence[Any], key: Callable[[Any], Any]) -> np.ndarray:
        return np.asarray(labels, dtype=np.float64)

    def truth_values(self, labels: Sequence[Any], key: Callable[[Any], Any]) -> tuple[np.ndarray, np.ndarray]:
        values = np.array([float(v) if v is not None else math.nan for v in labels], dtype=np.float64)
        return values, np.isfinite(values)

    def impact(self, before: float, after: float) -> float:
        if before > 0:
            return max(0.0, (after - before) / before)
        return 0.0 if after == 0 else math.inf

    def changed_share(self, base: np.ndarray, shuffled: np.ndarray, prediction_std: float | None) -> float:
        tolerance = 0.1 * prediction_std if prediction_std else 1e-9
        return float(np.mean(np.abs(shuffled - base) > tolerance))


TASK: Task = RegressionTask()
