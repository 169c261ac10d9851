"""The statistics a drift check keeps of one reference: per-column values, counts and chosen method.

A leaf module: the drift methods, the cache and the builder (:mod:`monitor.drift.reference_stats`)
all read these records, and this module imports none of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from monitor.drift.columns import ColumnKind, ValueType

SCHEMA_VERSION = 1


@dataclass(frozen=True, eq=False)
class ColumnStats:
    """Statistics of one reference column. Arrays are read-only.

    ``kind`` is the column type inferred from the reference with Evidently's rules (``binary``:
    categorical with at most two values). ``method``/``threshold`` are the test chosen for it:
    named by the user, or, when ``auto_method`` is true, Evidently's default rule applied to the
    reference alone; a check may refine an automatic choice with the current window, as
    Evidently's rule also counts the current window's distinct values.
    """

    name: str
    kind: ColumnKind
    value_type: ValueType
    n: int
    missing: int
    sorted_values: np.ndarray | None
    std: float | None
    min: float | None
    max: float | None
    categories: np.ndarray
    counts: np.ndarray
    method: str | None
    threshold: float | None
    auto_method: bool = True
    user_threshold: float | None = None
    categorical_pinned: bool = False

    @property
    def numbers(self) -> np.ndarray:
        """The sorted non-missing values of a column of numbers; a method that needs them applies
        only to such columns, so their absence is a bug, not a data problem."""
        if self.sorted_values is None:
            raise TypeError(f"column {self.name!r} holds no numbers")
        return self.sorted_values

    @property
    def spread(self) -> float:
        """The population standard deviation of :attr:`numbers`."""
        if self.std is None:
            raise TypeError(f"column {self.name!r} holds no numbers")
        return self.std

    @property
    def n_unique(self) -> int:
        return int(self.categories.size)

    @property
    def frequencies(self) -> dict[Any, float]:
        """Category (or distinct value) -> share of the reference's non-missing values."""
        if self.n == 0:
            return {}
        return dict(zip(self.categories.tolist(), (self.counts / self.n).tolist(), strict=True))


@dataclass(frozen=True, eq=False)
class ReferenceStats:
    """Per-column statistics of one reference data set; ``skipped`` maps a column to why it has none."""

    columns: Mapping[str, ColumnStats]
    rows: int
    skipped: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    schema_version: int = SCHEMA_VERSION
