"""The drift check: current window vs reference statistics, with verdicts equal to Evidently's defaults.

NumPy and SciPy only; it runs inside the daemon on every check. Example::

    ref = build_reference_stats(reference_columns)          # once per reference version
    result = detect_drift(ref, window_columns)              # every check
    result.drift_share, result.dataset_drift, result.prediction
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from monitor.drift.adjust import apply_effect_size_floor, apply_fdr
from monitor.drift.column_check import FeatureDrift, ScoredColumn, score_column
from monitor.drift.stats import ReferenceStats

DEFAULT_PREDICTION_COLUMN = "_prediction"

__all__ = ["DEFAULT_PREDICTION_COLUMN", "DriftResult", "FeatureDrift", "detect_drift"]


@dataclass(frozen=True)
class DriftResult:
    """The outcome of one drift check.

    ``drift_share`` is the share of scored features (columns without ``error``, prediction
    excluded) that drifted, None when no feature could be scored; ``dataset_drift`` is
    ``drift_share >= drift_share_threshold``, as in Evidently's DriftedColumnsCount.
    """

    features: tuple[FeatureDrift, ...]
    prediction: FeatureDrift | None
    rows: int
    drift_share: float | None
    drifted_features: int
    dataset_drift: bool
    drift_share_threshold: float

    def feature(self, column: str) -> FeatureDrift | None:
        return next((feature for feature in self.features if feature.column == column), None)

    @property
    def scores(self) -> dict[str, float | None]:
        """Feature column -> drift score, for the per-feature measurement."""
        return {feature.column: feature.score for feature in self.features}

    @property
    def errors(self) -> dict[str, str]:
        return {feature.column: feature.error for feature in self.features if feature.error is not None}


def _window_rows(current: Mapping[str, object]) -> int:
    return max((len(np.asarray(values)) for values in current.values()), default=0)


def detect_drift(
    ref: ReferenceStats,
    current: Mapping[str, np.ndarray],
    *,
    drift_share: float = 0.5,
    prediction_column: str | None = DEFAULT_PREDICTION_COLUMN,
    min_rows: int = 1,
    effect_size_floor: float | None = None,
    fdr: float | None = None,
) -> DriftResult:
    """Score every reference column against the current window and decide dataset drift.

    Each column gets the method recorded in ``ref`` (Evidently's default rule unless the user
    named one). The ``prediction_column`` is scored like the others but reported in
    ``prediction`` and left out of the share. A reference column missing from ``current``, or with
    fewer than ``min_rows`` non-missing values there, gets a verdict with ``error`` set and counts
    in neither the share nor its denominator. ``fdr`` (Benjamini-Hochberg level over the p-value
    features) and ``effect_size_floor`` (see ``monitor.drift.adjust``) are off by default, which
    keeps every verdict equal to Evidently's.
    """
    if not 0 < drift_share <= 1:
        raise ValueError(f"drift_share must be in (0, 1], got {drift_share}")
    if min_rows < 1:
        raise ValueError(f"min_rows must be at least 1, got {min_rows}")
    feature_columns: list[ScoredColumn] = []
    prediction: ScoredColumn | None = None
    for name, stats in ref.columns.items():
        scored = score_column(stats, current.get(name), min_rows=min_rows)
        if name == prediction_column:
            prediction = scored
        else:
            feature_columns.append(scored)
    if fdr is not None:
        feature_columns = apply_fdr(feature_columns, fdr)
    if effect_size_floor is not None:
        feature_columns = apply_effect_size_floor(feature_columns, effect_size_floor)
        if prediction is not None:
            prediction = apply_effect_size_floor([prediction], effect_size_floor)[0]
    features = tuple(column.verdict for column in feature_columns)
    measured = [feature for feature in features if feature.error is None]
    drifted = sum(feature.drifted for feature in measured)
    share = drifted / len(measured) if measured else None
    return DriftResult(
        features=features,
        prediction=prediction.verdict if prediction is not None else None,
        rows=_window_rows(current),
        drift_share=share,
        drifted_features=drifted,
        dataset_drift=share is not None and share >= drift_share,
        drift_share_threshold=drift_share,
    )
