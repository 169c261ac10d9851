"""The p-value methods: Kolmogorov-Smirnov, chi-squared and the two-proportion z-test.

Each mirrors its Evidently 0.7 counterpart, including the comparison: K-S says drifted when
``p <= threshold``, chi-squared and z when ``p < threshold``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np

from monitor.drift.binning import category_counts
from monitor.drift.ecdf import ks_statistic, merge_cdfs
from monitor.drift.ks_pvalue import ks_two_sample_pvalue

if TYPE_CHECKING:
    from monitor.drift.columns import ColumnKind
    from monitor.drift.stats import ColumnStats

NUMERIC: frozenset[ColumnKind] = frozenset({"numeric"})
CATEGORICAL: frozenset[ColumnKind] = frozenset({"categorical", "binary"})


class KSMethod:
    """Two-sample Kolmogorov-Smirnov test (``ks``), off the pre-sorted reference."""

    name: ClassVar[str] = "ks"
    kind: ClassVar[Literal["p_value"]] = "p_value"
    default_threshold: ClassVar[float] = 0.05
    applies_to: ClassVar[frozenset[ColumnKind]] = NUMERIC

    def score(self, ref: ColumnStats, current: np.ndarray) -> float:
        statistic = ks_statistic(merge_cdfs(ref.numbers, current))
        return ks_two_sample_pvalue(statistic, ref.n, current.size)

    def drifted(self, score: float, threshold: float) -> bool:
        return bool(score <= threshold)


class ChiSquareMethod:
    """Pearson's chi-squared test of the current counts against the reference frequencies (``chisquare``).

    Expected counts are the reference counts scaled to the current size. A category the reference
    never saw has an expected count of 0, so the statistic is infinite and the p-value 0; with a
    single category there are no degrees of freedom and the p-value is NaN, as in scipy.
    """

    name: ClassVar[str] = "chisquare"
    kind: ClassVar[Literal["p_value"]] = "p_value"
    default_threshold: ClassVar[float] = 0.05
    applies_to: ClassVar[frozenset[ColumnKind]] = CATEGORICAL

    def score(self, ref: ColumnStats, current: np.ndarray) -> float:
        from scipy.special import chdtrc

        _, reference_counts, observed = category_counts(ref, current)
        if observed.size < 2:
            return float("nan")
        expected = reference_counts * (current.size / ref.n)
        if np.any((expected == 0) & (observed > 0)):
            return 0.0
        statistic = float(np.sum((observed - expected) ** 2 / expected))
        return float(chdtrc(observed.size - 1, statistic))

    def drifted(self, score: float, threshold: float) -> bool:
        return bool(score < threshold)


class ZMethod:
    """Two-proportion z-test (``z``): the share of values other than the smallest value on either side.

    Two constant samples of the same value give p = 1.
    """

    name: ClassVar[str] = "z"
    kind: ClassVar[Literal["p_value"]] = "p_value"
    default_threshold: ClassVar[float] = 0.05
    applies_to: ClassVar[frozenset[ColumnKind]] = CATEGORICAL

    def score(self, ref: ColumnStats, current: np.ndarray) -> float:
        from scipy.special import ndtr

        keys, reference_counts, current_counts = category_counts(ref, current)
        if keys.size == 1:
            return 1.0
        n1, n2 = ref.n, current.size
        p1 = (n1 - reference_counts[0]) / n1
        p2 = (n2 - current_counts[0]) / n2
        pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
        return float(2 * (1 - ndtr(np.abs(z))))

    def drifted(self, score: float, threshold: float) -> bool:
        return bool(score < threshold)
