"""The serving-metrics source protocol and the value it returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from monitor.config import ModelConfig

SERVING_NAMES = (
    "request_rate",
    "prediction_rate",
    "error_ratio",
    "latency_p50_seconds",
    "latency_p95_seconds",
    "latency_p99_seconds",
    "cpu_seconds_per_1k_predictions",
    "cost_per_1k_predictions",
    "memory_bytes",
)


@dataclass(frozen=True)
class ServingSignals:
    """Serving measurements for one model; a value that could not be measured is ``None``."""

    source: str
    up: bool
    values: Mapping[str, float | None] = field(default_factory=dict)
    reason: str | None = None

    @classmethod
    def unknown(cls, source: str, reason: str) -> ServingSignals:
        return cls(source=source, up=False, values=dict.fromkeys(SERVING_NAMES), reason=reason)


class ServingSource(Protocol):
    """Reads a model's serving signals (traffic, latency, errors, CPU, memory, cost)."""

    @property
    def name(self) -> str: ...

    def read(self, model: ModelConfig, now: float) -> ServingSignals: ...


def cost_per_1k(
    cpu_seconds_per_prediction: float | None,
    memory_bytes: float | None,
    seconds_per_prediction: float | None,
    cpu_price_per_hour: float,
    memory_price_per_gb_hour: float,
) -> float | None:
    """Cost of 1000 predictions: CPU-seconds x CPU price plus memory-GB-seconds x memory price.

    ``cost = 1000 * (cpu_s/pred * cpu_price_h/3600 + mem_GB * s/pred * mem_price_gb_h/3600)``
    """
    if cpu_seconds_per_prediction is None:
        return None
    cost = cpu_seconds_per_prediction * cpu_price_per_hour / 3600.0
    if memory_price_per_gb_hour:
        if memory_bytes is None or seconds_per_prediction is None:
            return None
        cost += memory_bytes / 1e9 * seconds_per_prediction * memory_price_per_gb_hour / 3600.0
    return 1000.0 * cost
