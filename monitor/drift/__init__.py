"""The in-process drift engine: NumPy/SciPy statistics whose default verdicts equal Evidently's.

Evidently itself is never imported here; it renders reports in ``monitor.reports.report_worker``.
Imports nothing else of ours.
"""

from monitor.drift.cache import ReferenceCache, columns_digest
from monitor.drift.detect import DriftResult, FeatureDrift, detect_drift
from monitor.drift.methods import METHODS, DriftMethod, get_method
from monitor.drift.reference_stats import build_reference_stats
from monitor.drift.stats import ColumnStats, ReferenceStats

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
