"""Reference statistics: everything a drift check needs from the reference data, computed once per version.

Example::

    stats = build_reference_stats({"age": ages, "city": cities}, methods={"age": "psi"})
    stats.columns["age"].method     # "psi"
    stats.columns["city"].method    # Evidently's default for this column, e.g. "jensenshannon"
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType

import numpy as np

from monitor.drift.columns import (
    BINARY_MAX_VALUES,
    ColumnKind,
    UnsupportedColumnError,
    clean_column,
    infer_kind,
)
from monitor.drift.methods import default_method_name, get_method
from monitor.drift.stats import ColumnStats, ReferenceStats

__all__ = ["build_reference_stats"]


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _distinct(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and their counts, read off an already sorted array."""
    starts = np.flatnonzero(np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]]))
    if starts.size == sorted_values.size:
        # Every value distinct (a continuous column): share the sorted array, counts of one take no memory.
        return sorted_values, np.broadcast_to(np.int64(1), sorted_values.shape)
    return sorted_values[starts], np.diff(np.append(starts, sorted_values.size))


def _column_stats(
    name: str, raw: object, method_name: str | None, threshold: float | None, categorical: bool
) -> ColumnStats:
    column = clean_column(name, raw)
    sorted_values = np.sort(column.values) if column.value_type != "string" and column.values.size else None
    if sorted_values is not None:
        categories, counts = _distinct(sorted_values)
    else:
        categories, counts = np.unique(column.values, return_counts=True)
    if categorical:
        kind: ColumnKind = "binary" if categories.size <= BINARY_MAX_VALUES else "categorical"
    else:
        kind = infer_kind(column, int(categories.size))
    method = None
    if method_name is not None:
        method = get_method(method_name, name)
        if kind not in method.applies_to:
            raise ValueError(
                f"column {name!r}: drift method {method.name!r} does not apply to a {kind} column; "
                f"it applies to {sorted(method.applies_to)}"
            )
    elif column.values.size and kind != "text":
        method = get_method(default_method_name(kind, column.values.size, int(categories.size)))
    return ColumnStats(
        name=name,
        kind=kind,
        value_type=column.value_type,
        n=int(column.values.size),
        missing=column.missing,
        sorted_values=_frozen(sorted_values) if sorted_values is not None else None,
        std=float(np.std(sorted_values)) if sorted_values is not None else None,
        min=float(sorted_values[0]) if sorted_values is not None else None,
        max=float(sorted_values[-1]) if sorted_values is not None else None,
        categories=_frozen(categories),
        counts=_frozen(counts),
        method=method.name if method else None,
        threshold=(threshold if threshold is not None else method.default_threshold) if method else None,
        auto_method=method_name is None,
        user_threshold=threshold,
        categorical_pinned=categorical,
    )


def _check_names(what: str, names: Collection[str], columns: Mapping[str, object]) -> None:
    unknown = sorted(set(names) - set(columns))
    if unknown:
        raise ValueError(f"{what} names columns not in the reference: {unknown}; columns: {sorted(columns)}")


def build_reference_stats(
    columns: Mapping[str, np.ndarray],
    *,
    methods: Mapping[str, str] = MappingProxyType({}),
    categorical: Collection[str] = (),
    thresholds: Mapping[str, float] = MappingProxyType({}),
) -> ReferenceStats:
    """Compute the statistics of every column once: sorted values, std, min/max, category counts, method.

    ``methods`` names a drift method per column (otherwise Evidently's default rule picks one),
    ``thresholds`` overrides a column's threshold, ``categorical`` forces columns to be
    categorical (as a DataDefinition's ``categorical_columns`` would). Columns of a type that is not
    drift-tested (datetimes, mixed objects) are left out and listed in ``skipped``. Raises
    ValueError naming the column for an unknown or inapplicable method, a non-1-D array, or
    columns of different lengths.
    """
    for what, names in (("methods", methods), ("categorical", categorical), ("thresholds", thresholds)):
        _check_names(what, names, columns)
    lengths = {name: len(np.asarray(values)) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"reference columns have different lengths: {lengths}")
    stats: dict[str, ColumnStats] = {}
    skipped: dict[str, str] = {}
    for name, values in columns.items():
        if np.asarray(values).ndim != 1:
            raise ValueError(f"column {name!r}: expected a 1-D array, got shape {np.asarray(values).shape}")
        try:
            stats[name] = _column_stats(
                name, values, methods.get(name), thresholds.get(name), name in categorical
            )
        except UnsupportedColumnError as err:
            skipped[name] = str(err)
    return ReferenceStats(
        columns=MappingProxyType(stats),
        rows=next(iter(lengths.values()), 0),
        skipped=MappingProxyType(skipped),
    )
