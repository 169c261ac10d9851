"""Data-quality measurements of a prediction window against the reference."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def missing_ratio(columns: Mapping[str, np.ndarray]) -> float | None:
    total = missing = 0
    for values in columns.values():
        total += len(values)
        if values.dtype == object:
            missing += sum(v is None for v in values)
        else:
            missing += int((~np.isfinite(values)).sum())
    return missing / total if total else None


def out_of_range_ratio(
    columns: Mapping[str, np.ndarray], ranges: Mapping[str, tuple[float, float]]
) -> float | None:
    """Share of finite numeric values outside the reference's [min, max]."""
    total = outside = 0
    for name, (low, high) in ranges.items():
        values = columns.get(name)
        if values is None or values.dtype == object:
            continue
        finite = values[np.isfinite(values)]
        total += len(finite)
        outside += int(((finite < low) | (finite > high)).sum())
    return outside / total if total else None
