"""Check-wide corrections against false alarms on large windows; both are off by default.

On a window of tens of thousands of rows a p-value test finds trivially small differences
"significant", and over many columns some p-values fall under 0.05 by chance alone. Two options:

- ``fdr``: Benjamini-Hochberg over the p-value columns of one check, controlling the expected
  share of false alarms among the columns called drifted at level ``fdr``;
- ``effect_size_floor``: a p-value column is drifted only when its effect size also reaches the
  floor: the Wasserstein distance over the reference std for numeric columns, the Jensen-Shannon
  distance of the value frequencies for categorical ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from monitor.drift.column_check import ScoredColumn
from monitor.drift.distance_methods import JensenShannonMethod, WassersteinMethod
from monitor.drift.methods import get_method

_WASSERSTEIN = WassersteinMethod()
_JENSEN_SHANNON = JensenShannonMethod()


def _is_p_value(column: ScoredColumn) -> bool:
    verdict = column.verdict
    return (
        verdict.error is None and verdict.method is not None and get_method(verdict.method).kind == "p_value"
    )


def benjamini_hochberg(p_values: Sequence[float], level: float) -> list[bool]:
    """Which hypotheses Benjamini-Hochberg rejects at false-discovery level ``level``."""
    if not 0 < level < 1:
        raise ValueError(f"fdr level must be between 0 and 1, got {level}")
    m = len(p_values)
    if m == 0:
        return []
    order = np.argsort(np.asarray(p_values, dtype=float), kind="stable")
    ranked = np.asarray(p_values, dtype=float)[order]
    passing = np.nonzero(ranked <= level * np.arange(1, m + 1) / m)[0]
    rejected = np.zeros(m, dtype=bool)
    if passing.size:
        rejected[order[: passing[-1] + 1]] = True
    return rejected.tolist()


def apply_fdr(columns: Sequence[ScoredColumn], level: float) -> list[ScoredColumn]:
    """Replace each p-value column's verdict with the Benjamini-Hochberg decision across them."""
    scored = [
        (i, column.verdict.score)
        for i, column in enumerate(columns)
        if _is_p_value(column) and column.verdict.score is not None
    ]
    decisions = benjamini_hochberg([p_value for _, p_value in scored], level)
    adjusted = list(columns)
    for (i, _), rejected in zip(scored, decisions, strict=True):
        verdict = dataclasses.replace(columns[i].verdict, drifted=rejected)
        adjusted[i] = dataclasses.replace(columns[i], verdict=verdict)
    return adjusted


def effect_size(column: ScoredColumn) -> float | None:
    """The distance that measures how large the column's shift is, whatever test scored it."""
    if column.view is None or column.values is None:
        return None
    measure = _WASSERSTEIN if column.view.kind == "numeric" else _JENSEN_SHANNON
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(measure.score(column.view, column.values))


def apply_effect_size_floor(columns: Sequence[ScoredColumn], floor: float) -> list[ScoredColumn]:
    """Record each p-value column's effect size and keep it drifted only if the effect reaches ``floor``."""
    if floor < 0:
        raise ValueError(f"effect_size_floor must be >= 0, got {floor}")
    adjusted = []
    for column in columns:
        if _is_p_value(column):
            effect = effect_size(column)
            drifted = column.verdict.drifted and effect is not None and effect >= floor
            verdict = dataclasses.replace(column.verdict, drifted=drifted, effect_size=effect)
            column = dataclasses.replace(column, verdict=verdict)
        adjusted.append(column)
    return adjusted
