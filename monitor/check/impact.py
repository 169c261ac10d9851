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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

import numpy as np

from monitor.check.performance import label_key
from reoptimize.tasks.task import Task, task_named

MIN_LABELS = 20
Basis = Literal["accuracy_drop", "rmse_increase", "prediction_change"]


class Predictor(Protocol):
    """What the impact needs from a model: predictions (labels or values) for float32 rows."""

    task: str | Task  # a task or its name; it decides the basis of the impact

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
    task = task_named(model.task)
    truth, labelled = _labels(labels, rows, task)
    index = {name: i for i, name in enumerate(feature_names)}
    columns = [index[name] for name in drifted]
    batch = np.concatenate([x] + [_shuffled(x, j, rng) for j in columns])
    predictions = task.prediction_values(model.run(batch).labels, label_key)
    base, shuffled = (
        predictions[: len(x)],
        [predictions[len(x) * (k + 1) : len(x) * (k + 2)] for k in range(len(columns))],
    )
    if labelled.sum() >= MIN_LABELS:
        basis = cast(Basis, task.impact_basis)
        before = task.score(base[labelled], truth[labelled])
        impacts = [task.impact(before, task.score(p[labelled], truth[labelled])) for p in shuffled]
    else:
        basis = "prediction_change"
        impacts = [task.changed_share(base, p, prediction_std) for p in shuffled]
    return ImpactResult(
        tuple(FeatureImpact(name, float(v)) for name, v in zip(drifted, impacts, strict=True)), len(x), basis
    )


def _shuffled(x: np.ndarray, column: int, rng: np.random.Generator) -> np.ndarray:
    out = x.copy()
    out[:, column] = rng.permutation(out[:, column])
    return out


def _labels(labels: Sequence[Any] | None, rows: np.ndarray, task: Task) -> tuple[np.ndarray, np.ndarray]:
    if labels is None:
        return np.empty(len(rows), dtype=object), np.zeros(len(rows), dtype=bool)
    return task.truth_values([labels[i] for i in rows.tolist()], label_key)
