"""What a candidate evaluation measures: one frozen record per model, shared by evaluate and gate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class CandidateMetrics:
    """Measurements of one model, taken in the same run as its rivals. ``None`` = not measurable.

    Accuracy-type fields are ratios in 0-1 on: ``holdout_*`` the model's fixed holdout,
    ``recent_*`` the evaluation part of the recent labelled window, ``train_accuracy`` the model's own
    training rows (for a champion, its reference). ``train_holdout_gap`` is train minus
    holdout accuracy, or holdout minus train RMSE for regressors: positive means overfit.
    Latencies are single-row seconds on ONNX Runtime with one thread.
    ``cost_per_1k_predictions`` is ``cpu_seconds_per_1k_predictions * cpu_price_per_hour / 3600``,
    where the CPU seconds are the mean single-row latency times 1000 (one thread busy for
    the whole call, so wall time stands in for CPU time).
    """

    holdout_accuracy: float | None = None
    recent_accuracy: float | None = None
    train_accuracy: float | None = None
    train_holdout_gap: float | None = None
    f1: float | None = None
    recent_f1: float | None = None
    mae: float | None = None
    rmse: float | None = None
    recent_mae: float | None = None
    recent_rmse: float | None = None
    latency_p50_seconds: float | None = None
    latency_p95_seconds: float | None = None
    batch_latency_seconds: float | None = None
    batch_throughput_rows_per_second: float | None = None
    cpu_seconds_per_1k_predictions: float | None = None
    cost_per_1k_predictions: float | None = None
    model_size_bytes: int | None = None
    holdout_rows: int = 0
    recent_rows: int = 0
    train_rows: int = 0

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def get(self, name: str) -> float | None:
        if name not in self.names():
            raise KeyError(f"unknown metric {name!r}; known: {', '.join(self.names())}")
        value: float | None = getattr(self, name)  # every field is a number or None
        return value

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.names()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CandidateMetrics:
        return cls(**{k: v for k, v in data.items() if k in cls.names()})
