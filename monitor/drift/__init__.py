"""The in-process drift engine: NumPy/SciPy statistics whose default verdicts equal Evidently's.

Evidently itself is never imported here; it renders reports in ``monitor.report_worker``.
"""

from monitor.drift.cache import ReferenceCache, columns_digest
from monitor.drift.engine import DriftResult, FeatureDrift, detect_drift
from monitor.drift.methods import METHODS, DriftMethod, get_method
from monitor.drift.reference import ColumnStats, ReferenceStats, build_reference_stats

__all__ = [
    "METHODS",
    "ColumnStats",
    "DriftMethod",
    "DriftResult",
    "FeatureDrift",
    "ReferenceCache",
    "ReferenceStats",
    "build_reference_stats",
    "columns_digest",
    "detect_drift",
    "get_method",
]
