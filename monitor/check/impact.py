"""Does the drift matter? The permutation impact of each drifted feature on the current window.

For each drifted feature (the most drifted first, at most ``max_features``), its column is
shuffled within a sample of at most ``max_rows`` window rows and the model runs again with ONNX
Runtime, all permutations in one batch. The impact is what the shuffle costs:

- with at least ``MIN_LABELS`` labelled rows in the sample: the accuracy drop (classifier) or
  the relative RMSE increase (regressor), never below 0;
- without labels: the share of predictions that change (a regressor's prediction changes when
  it moves by more than a tenth of the reference predictions' standard deviation).

A feature the model ignores has impact 0 however far it drifted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from monitor.check.performance import label_key

MIN_LABELS = 20
Basis = Literal["accuracy_drop", "rmse_increase", "prediction_change"]


class Predictor(Protocol):
    """What the impact needs from a model: predictions (labels or values) for float32 rows."""

    task: str

    def run(self, features: np.ndarray) -> Any: ...  # reoptimize.onnx.onnx_model.Prediction


@dataclass(frozen=True)
class FeatureImpact:
    feature: str
    impact: float


@dataclass(frozen=True)
class ImpactResult:
    features: tuple[FeatureImpact, ...]
    rows: int
    basis: Basis

    @property
    def largest(self) -> float:
        return max((f.impact for f in self.features), default=0.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "basis": self.basis,
            "features": {f.feature: f.impact for f in self.features},
        }


def _predict(model: Predictor, x: np.ndarray) -> np.ndarray:
    labels = model.run(x).labels
    if model.task == "regression":
        return np.asarray(labels, dtype=np.float64)
    return np.array([label_key(v) for v in labels], dtype=object)


def _score(pred: np.ndarray, truth: np.ndarray, task: str) -> float:
    if task == "regression":
        return math.sqrt(float(np.mean((pred - truth) ** 2)))
    return float(np.mean(pred == truth))


def permutation_impact(
    model: Predictor,
    matrix: np.ndarray,
    feature_names: Sequence[str],
    drifted: Sequence[str],
    labels: Sequence[Any] | None,
    *,
    prediction_std: float | None = None,
    max_rows: int = 1000,
    seed: int = 0,
) -> ImpactResult | None:
    """Impact of shuffling each of ``drifted`` over rows of ``matrix`` (``[rows, features]`` float).

    ``labels`` is aligned with the rows (``None`` where a row has no label). Rows with a
    non-finite feature are left out; ``None`` when no row is left.
    """
    rng = np.random.default_rng(seed)
    finite = np.isfinite(matrix).all(axis=1)
    rows = np.flatnonzero(finite)
    if rows.size == 0:
        return None
    if rows.size > max_rows:
        rows = np.sort(rng.choice(rows, max_rows, replace=False))
    x = np.ascontiguousarray(matrix[rows], dtype=np.float32)
    truth, labelled = _labels(labels, rows, model.task)
    index = {name: i for i, name in enumerate(feature_names)}
    columns = [index[name] for name in drifted]
    batch = np.concatenate([x] + [_shuffled(x, j, rng) for j in columns])
    predictions = _predict(model, batch)
    base, shuffled = (
        predictions[: len(x)],
        [predictions[len(x) * (k + 1) : len(x) * (k + 2)] for k in range(len(columns))],
    )
    if labelled.sum() >= MIN_LABELS:
        basis: Basis = "rmse_increase" if model.task == "regression" else "accuracy_drop"
        before = _score(base[labelled], truth[labelled], model.task)
        impacts = [
            _label_impact(before, _score(p[labelled], truth[labelled], model.task), model.task)
            for p in shuffled
        ]
    else:
        basis = "prediction_change"
        impacts = [_changed_share(base, p, model.task, prediction_std) for p in shuffled]
    return ImpactResult(
        tuple(FeatureImpact(name, float(v)) for name, v in zip(drifted, impacts, strict=True)), len(x), basis
    )


def _shuffled(x: np.ndarray, column: int, rng: np.random.Generator) -> np.ndarray:
    out = x.copy()
    out[:, column] = rng.permutation(out[:, column])
    return out


def _labels(labels: Sequence[Any] | None, rows: np.ndarray, task: str) -> tuple[np.ndarray, np.ndarray]:
    if labels is None:
        return np.empty(len(rows), dtype=object), np.zeros(len(rows), dtype=bool)
    picked = [labels[i] for i in rows.tolist()]
    labelled = np.array([v is not None for v in picked], dtype=bool)
    if task == "regression":
        values = np.array([float(v) if v is not None else math.nan for v in picked], dtype=np.float64)
        labelled &= np.isfinite(values)
        return values, labelled
    return np.array([label_key(v) if v is not None else None for v in picked], dtype=object), labelled


def _label_impact(before: float, after: float, task: str) -> float:
    if task == "regression":
        return max(0.0, (after - before) / before) if before > 0 else (0.0 if after == 0 else math.inf)
    return max(0.0, before - after)


def _changed_share(base: np.ndarray, shuffled: np.ndarray, task: str, prediction_std: float | None) -> float:
    if task == "regression":
        tolerance = 0.1 * prediction_std if prediction_std else 1e-9
        return float(np.mean(np.abs(shuffled - base) > tolerance))
    return float(np.mean(shuffled != base))
