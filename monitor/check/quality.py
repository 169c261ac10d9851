"""Data-quality measurements of a prediction window against the reference statistics.

Every value of every feature counts once:

- ``missing_ratio``: values the model could not use (absent, null, wrong type, NaN or +-inf)
  over all feature values;
- ``nan_values`` / ``inf_values``: NaN and +-inf values that were sent (gaps not included);
- ``out_of_range_ratio``: finite values of numeric features outside the reference's [min, max];
- ``unseen_category_ratio``: values of categorical features (strings, booleans, few-valued
  integers) that the reference never held, over their non-missing values;
- ``schema_errors``: columns missing from, extra in or wrongly typed in the window's records.

A window with no rows has unknown quality (``None``), never 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monitor.drift.stats import ReferenceStats
from monitor.sources.prediction_log_reader import PredictionWindow

MAX_LISTED = 10  # unseen categories listed per feature in the details


@dataclass(frozen=True)
class QualityReport:
    values: Mapping[str, float | None]
    details: Mapping[str, Any] = field(default_factory=dict)


def _numeric_counts(values: np.ndarray, gaps: int) -> tuple[int, int, int]:
    """(missing, NaN sent, inf sent) of a float column whose gaps are NaN."""
    nan = int(np.isnan(values).sum())
    inf = int(np.isinf(values).sum())
    return nan + inf, max(nan - gaps, 0), inf


def _unseen(values: np.ndarray, stats_categories: np.ndarray, numeric: bool) -> np.ndarray:
    if numeric:
        finite: np.ndarray = values[np.isfinite(values)]
        unseen: np.ndarray = finite[~np.isin(finite, stats_categories)]
        return unseen
    present = np.array([v for v in values.tolist() if v is not None], dtype=object)
    known = set(stats_categories.tolist())
    return np.array([v for v in present.tolist() if v not in known], dtype=object)


def window_quality(
    window: PredictionWindow, stats: ReferenceStats, features: tuple[str, ...]
) -> QualityReport:
    """Data quality of ``window`` for ``features``, judged against the reference ``stats``."""
    schema = {
        "missing_columns": sorted(window.missing_columns),
        "extra_columns": sorted(window.extra_columns),
        "wrong_type_columns": sorted(window.wrong_type_columns),
    }
    values: dict[str, float | None] = {
        "schema_errors": window.schema_errors,
        "bad_log_lines": window.bad_lines,
    }
    if not window.rows:
        for name in (
            "missing_ratio",
            "nan_values",
            "inf_values",
            "out_of_range_ratio",
            "unseen_category_ratio",
        ):
            values[name] = None
        return QualityReport(values, {"schema": schema})
    total = missing = nan = inf = 0
    range_total = outside = cat_total = unseen_total = 0
    unseen_examples: dict[str, list[Any]] = {}
    for name in features:
        column = window.columns.get(name)
        if column is None:
            continue
        total += len(column)
        numeric = column.dtype != object
        if numeric:
            column = column.astype(np.float64, copy=False)
            m, n, i = _numeric_counts(column, window.null_counts.get(name, 0))
            missing, nan, inf = missing + m, nan + n, inf + i
        else:
            missing += sum(v is None for v in column.tolist())
        ref = stats.columns.get(name)
        if ref is None or ref.n == 0:
            continue
        if ref.kind in ("categorical", "binary"):
            unseen = _unseen(column, ref.categories, numeric and ref.value_type != "string")
            cat_total += (
                int(np.isfinite(column).sum()) if numeric else sum(v is not None for v in column.tolist())
            )
            unseen_total += len(unseen)
            if len(unseen):
                unseen_examples[name] = sorted({str(v) for v in unseen.tolist()})[:MAX_LISTED]
        elif numeric and ref.min is not None and ref.max is not None:
            finite = column[np.isfinite(column)]
            range_total += len(finite)
            outside += int(((finite < ref.min) | (finite > ref.max)).sum())
    values.update(
        missing_ratio=missing / total if total else None,
        nan_values=nan,
        inf_values=inf,
        out_of_range_ratio=outside / range_total if range_total else None,
        unseen_category_ratio=unseen_total / cat_total if cat_total else None,
    )
    return QualityReport(values, {"schema": schema, "unseen_categories": unseen_examples})
