"""One drift scale for every method, to rank features: 1 at the method's threshold, above 1 drifted.

A distance (drift when it reaches the threshold) scores ``distance / threshold``; a p-value (drift
when it falls below the threshold) scores ``log(p) / log(threshold)``, so p = threshold gives 1
and smaller p-values give more (at most about 249 for p = 0 at threshold 0.05). Used to pick the top-K features to export and to explain.
"""

from __future__ import annotations

import math

from monitor.drift.methods import get_method


def drift_severity(method: str | None, score: float | None, threshold: float | None) -> float | None:
    """The feature's drift on the common scale, ``None`` when it was not scored."""
    if method is None or score is None or threshold is None or not math.isfinite(score):
        return None
    if get_method(method).kind == "distance":
        return score / threshold if threshold > 0 else None
    if not 0 < threshold < 1:
        return None
    # A p-value of 0 (underflow) is as drifted as the smallest positive double: finite for JSON.
    return math.log(min(max(score, 5e-324), 1.0)) / math.log(threshold)
