"""Drift methods: the ``DriftMethod`` protocol, the table of methods by name, and Evidently's default rule.

Names, default thresholds and the direction of each comparison are Evidently 0.7's
(``evidently.legacy.calculations.stattests``). Adding a method means writing a class that meets
``DriftMethod`` and adding one entry to ``_ALL``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from monitor.drift.distance_methods import (
    EnergyDistanceMethod,
    HellingerMethod,
    JensenShannonMethod,
    KLDivergenceMethod,
    PSIMethod,
    WassersteinMethod,
)
from monitor.drift.pvalue_methods import ChiSquareMethod, KSMethod, ZMethod

if TYPE_CHECKING:
    from monitor.drift.columns import ColumnKind
    from monitor.drift.stats import ColumnStats

SMALL_REFERENCE_ROWS = 1000
FEW_VALUES = 5
BINARY_VALUES = 2


class DriftMethod(Protocol):
    """One drift test or distance between a reference column and a current sample.

    ``score`` gets the reference statistics and the current window's non-missing values (float64
    for numbers, ``str`` objects for strings; never empty) and returns a p-value (``kind ==
    "p_value"``: small means drift) or a distance (``kind == "distance"``: large means drift). It
    may return NaN when the score is undefined (chi-squared over a single category), which
    ``drifted`` answers with False. ``applies_to`` lists the column kinds a user may name it for.

    Example::

        method = get_method("wasserstein")
        score = method.score(reference.columns["age"], current_ages)
        method.drifted(score, method.default_threshold)
    """

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> Literal["p_value", "distance"]: ...

    @property
    def default_threshold(self) -> float: ...

    @property
    def applies_to(self) -> frozenset[ColumnKind]: ...

    def score(self, ref: ColumnStats, current: np.ndarray) -> float: ...

    def drifted(self, score: float, threshold: float) -> bool: ...


_ALL: tuple[DriftMethod, ...] = (
    KSMethod(),
    ChiSquareMethod(),
    ZMethod(),
    WassersteinMethod(),
    JensenShannonMethod(),
    PSIMethod(),
    KLDivergenceMethod(),
    HellingerMethod(),
    EnergyDistanceMethod(),
)
METHODS: Mapping[str, DriftMethod] = MappingProxyType({method.name: method for method in _ALL})
# Evidently calls the energy distance "ed"; the long name is accepted as well.
ALIASES: Mapping[str, str] = MappingProxyType({"energy_distance": "ed"})


class UnknownMethodError(ValueError):
    """A drift method name that is not in the table."""

    def __init__(self, name: str, column: str | None = None):
        where = f" for column {column!r}" if column else ""
        known = ", ".join(sorted([*METHODS, *ALIASES]))
        super().__init__(f"unknown drift method {name!r}{where}; expected one of: {known}")


def get_method(name: str, column: str | None = None) -> DriftMethod:
    """The method registered under ``name`` (or an alias); UnknownMethodError names the column."""
    method = METHODS.get(ALIASES.get(name, name))
    if method is None:
        raise UnknownMethodError(name, column)
    return method


def default_method_name(kind: ColumnKind, reference_rows: int, distinct_values: int) -> str:
    """Evidently's default test for a column (``stattests.registry._get_default_stattest``).

    ``reference_rows`` counts the reference's non-missing values; ``distinct_values`` counts the
    distinct non-missing values of reference and current together.
    """
    numeric = kind == "numeric"
    if reference_rows <= SMALL_REFERENCE_ROWS:
        if distinct_values <= BINARY_VALUES:
            return "z"
        if not numeric or distinct_values <= FEW_VALUES:
            return "chisquare"
        return "ks"
    if numeric and distinct_values > FEW_VALUES:
        return "wasserstein"
    return "jensenshannon"
