"""The typed record one check yields for one model."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rules.vocabulary import NAMES


@dataclass(frozen=True)
class FeatureScore:
    feature: str
    method: str
    score: float | None
    threshold: float | None  # None when the column could not be scored
    drifted: bool
    error: str | None = None
    severity: float | None = None  # drift on one scale for all methods: 1 at the threshold
    impact: float | None = None  # permutation impact on the model's output, when measured


@dataclass(frozen=True)
class Measurements:
    """One check's values by vocabulary name (``None`` = not measured) plus per-feature drift."""

    model: str
    version: str | None
    at: float
    values: Mapping[str, float | None]
    features: tuple[FeatureScore, ...] = ()
    notes: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.values) - NAMES
        if unknown:
            raise ValueError(f"measurement names not in the vocabulary: {sorted(unknown)}")
        clean = {name: _clean(self.values.get(name)) for name in NAMES}
        object.__setattr__(self, "values", clean)

    def get(self, name: str) -> float | None:
        return self.values[name]

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "at": self.at,
            "values": dict(self.values),
            "features": [f.__dict__ for f in self.features],
            "notes": list(self.notes),
            "extra": dict(self.extra),
        }


def _clean(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    number = float(value)
    return number if math.isfinite(number) else None
