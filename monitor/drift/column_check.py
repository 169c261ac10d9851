"""Scoring one column of a current window against its reference statistics.

Evidently types a column from the *current* data and picks its default test from the distinct
values of reference and current together, so both are settled here, per window, from the
reference statistics and the window's values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from monitor.drift.columns import (
    BINARY_MAX_VALUES,
    CleanColumn,
    ColumnKind,
    UnsupportedColumnError,
    clean_column,
    infer_kind,
)
from monitor.drift.methods import FEW_VALUES, DriftMethod, default_method_name, get_method
from monitor.drift.stats import ColumnStats


@dataclass(frozen=True)
class FeatureDrift:
    """The drift verdict of one column in one check.

    ``score`` is a p-value or a distance depending on ``method``; it is None when it could not be
    measured, and then ``error`` says why (missing column, too few rows, wrong value type) unless
    the method itself has no value here (chi-squared over a single category). ``effect_size`` is
    set for p-value methods when the check used an effect-size floor.
    """

    column: str
    method: str | None
    kind: ColumnKind | None
    score: float | None
    threshold: float | None
    drifted: bool
    error: str | None = None
    effect_size: float | None = None


@dataclass(frozen=True, eq=False)
class ScoredColumn:
    """A verdict plus what it was computed from, kept for the check-wide adjustments."""

    verdict: FeatureDrift
    view: ColumnStats | None = None
    values: np.ndarray | None = None


def _failed(stats: ColumnStats, error: str) -> ScoredColumn:
    verdict = FeatureDrift(stats.name, stats.method, stats.kind, None, stats.threshold, False, error)
    return ScoredColumn(verdict)


def _resolve(stats: ColumnStats, values: np.ndarray, kind: ColumnKind) -> tuple[DriftMethod, float]:
    if not stats.auto_method:
        method = get_method(stats.method or "", stats.name)
        if kind not in method.applies_to:
            raise ValueError(f"method {method.name!r} does not apply to a {kind} column in this window")
    else:
        distinct = stats.n_unique
        if distinct <= FEW_VALUES:
            distinct = int(np.union1d(stats.categories, values).size)
        method = get_method(default_method_name(kind, stats.n, distinct))
    threshold = stats.user_threshold if stats.user_threshold is not None else method.default_threshold
    return method, threshold


def _window_kind(stats: ColumnStats, column: CleanColumn) -> ColumnKind:
    if stats.categorical_pinned:
        return stats.kind
    n_unique = int(np.unique(column.values).size) if column.value_type != "float" else 0
    kind = infer_kind(column, n_unique)
    if kind in ("categorical", "binary"):
        # Whether a categorical column is binary is a property of the reference, so it stays stable.
        return "binary" if stats.n_unique <= BINARY_MAX_VALUES else "categorical"
    return kind


def score_column(stats: ColumnStats, raw: object | None, *, min_rows: int = 1) -> ScoredColumn:
    """Score one column; every failure becomes a verdict with ``error`` set, never an exception."""
    if raw is None:
        return _failed(stats, f"column {stats.name!r} is missing from the current window")
    if stats.n == 0:
        return _failed(stats, f"reference column {stats.name!r} has no non-missing values")
    try:
        column = clean_column(stats.name, raw)
    except UnsupportedColumnError as err:
        return _failed(stats, str(err))
    if column.values.size < min_rows:
        return _failed(
            stats,
            f"column {stats.name!r} has {column.values.size} non-missing values in the window, "
            f"fewer than min_rows={min_rows}",
        )
    if (column.value_type == "string") != (stats.value_type == "string"):
        expected = "strings" if stats.value_type == "string" else "numbers"
        return _failed(stats, f"column {stats.name!r} holds {column.value_type} values; expected {expected}")
    kind = _window_kind(stats, column)
    if kind == "text":
        return _failed(
            stats,
            f"column {stats.name!r} is text (more than half of its values are distinct); text drift is not scored",
        )
    try:
        method, threshold = _resolve(stats, column.values, kind)
    except ValueError as err:
        return _failed(stats, f"column {stats.name!r}: {err}")
    view = dataclasses.replace(stats, kind=kind, method=method.name, threshold=threshold)
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            score = float(method.score(view, column.values))
    except Exception as err:  # one column's failure must not stop the check of the others
        return _failed(stats, f"column {stats.name!r}: {method.name} failed: {type(err).__name__}: {err}")
    verdict = FeatureDrift(
        column=stats.name,
        method=method.name,
        kind=kind,
        score=score if np.isfinite(score) else None,
        threshold=threshold,
        drifted=method.drifted(score, threshold),
    )
    return ScoredColumn(verdict, view, column.values)
