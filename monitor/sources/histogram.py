"""Quantiles from cumulative histogram buckets, computed the way PromQL's histogram_quantile does."""

from __future__ import annotations

import math
from collections.abc import Sequence


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Quantile ``q`` from ``(upper_bound, cumulative_count)`` pairs; ``None`` with no observations.

    Linear interpolation inside the bucket that holds the rank; the lowest bucket starts at 0
    (for a positive upper bound); a rank in the ``+Inf`` bucket gives the highest finite bound.
    """
    if not 0.0 <= q <= 1.0 or not buckets:
        return None
    ordered = sorted(buckets)
    if not math.isinf(ordered[-1][0]):
        return None
    total = ordered[-1][1]
    if total <= 0:
        return None
    rank = q * total
    prev_bound, prev_count = 0.0, 0.0
    for i, (bound, count) in enumerate(ordered):
        if count >= rank:
            if math.isinf(bound):
                return ordered[i - 1][0] if i > 0 else None
            if i == 0 and bound <= 0:
                return bound
            in_bucket = count - prev_count
            if in_bucket <= 0:
                return bound
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / in_bucket
        prev_bound, prev_count = bound, count
    return None


def increase(values: Sequence[float]) -> float:
    """Counter increase over consecutive samples, treating any decrease as a counter reset."""
    total = 0.0
    for before, after in zip(values, values[1:], strict=False):
        total += after - before if after >= before else after
    return total
