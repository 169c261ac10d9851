"""The distance methods: normalized Wasserstein, energy distance, Jensen-Shannon, PSI, KL and Hellinger.

Each mirrors its Evidently 0.7 counterpart. All say drifted when ``distance >= threshold``
except the energy distance (``ed``), which Evidently compares with ``>``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np

from monitor.drift.binning import binned_frequencies, category_counts
from monitor.drift.ecdf import energy_distance, merge_cdfs, wasserstein

if TYPE_CHECKING:
    from monitor.drift.columns import ColumnKind
    from monitor.drift.stats import ColumnStats

NUMERIC: frozenset[ColumnKind] = frozenset({"numeric"})
ANY_KIND: frozenset[ColumnKind] = frozenset({"numeric", "categorical", "binary"})
# Evidently divides by max(std, 0.001) so a constant reference does not divide by zero.
MIN_NORMALIZING_STD = 0.001


class _Distance:
    kind: ClassVar[Literal["distance"]] = "distance"
    default_threshold: ClassVar[float] = 0.1

    def drifted(self, score: float, threshold: float) -> bool:
        return bool(score >= threshold)


class WassersteinMethod(_Distance):
    """First Wasserstein distance divided by the reference's population std (``wasserstein``)."""

    name: ClassVar[str] = "wasserstein"
    applies_to: ClassVar[frozenset[ColumnKind]] = NUMERIC

    def score(self, ref: ColumnStats, current: np.ndarray) -> float:
        return wasserstein(merge_cdfs(ref.numbers, current)) / max(ref.spread, MIN_NORMALIZING_STD)


class EnergyDistanceMethod(_Distance):
    """Energy distance (``ed``), not normalized."""

    name: ClassVar[str] = "ed"
    applies_to: ClassVar[frozenset[ColumnKind]] = NUMERIC

    def score(self, ref: ColumnStats, current: np.ndarray) -> float:
        return energy_distance(merge_cdfs(ref.numbers, current))

    def drifted(self, score: float, threshold: float) -> bool:
        return bool(score > threshold)


def _rel_entr(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    # p * log(p / q), taken as 0 where p is 0 (scipy.special.rel_entr).
    safe_p = np.where(p > 0, p, 1.0)
    return np.where(p > 0, p * np.log(safe_p / np.where(p > 0, q, 1.0)), 0.0)


class JensenShannonMethod(_Distance):
    """Jensen-Shannon distance (natural log) between binned frequencies (``jensenshannon``)."""

    name: ClassVar[str] = "jensenshannon"
    applies_to: ClassVar[frozenset[ColumnKind]] = ANY_KIND

    def score(self, ref: ColumnStats, current: np.ndarray) -> float:
        p, q = binned_frequencies(ref, current, fill_zeros=False)
        p, q = p / p.sum(), q / q.sum()
        m = (p + q) / 2.0
        divergence = float(np.sum(_rel_entr(p, m)) + np.sum(_rel_entr(q, m)))
        return math.sqrt(max(divergence, 0.0) / 2.0)


class PSIMethod(_Distance):
    """Population stability index over binned frequencies with zeros filled (``psi``)."""

    name: ClassVar[str] = "psi"
    applies_to: ClassVar[frozenset[ColumnKind]] = ANY_KIND

    def score(self, ref: ColumnStats, current: np.ndarray) -> float:
        p, q = binned_frequencies(ref, current, fill_zeros=True)
        return float(np.sum((p - q) * np.log(p / q)))


class KLDivergenceMethod(_Distance):
    """Kullback-Leibler divergence KL(reference || current) with zeros filled, renormalized (``kl_div``)."""

    name: ClassVar[str] = "kl_div"
    applies_to: ClassVar[frozenset[ColumnKind]] = ANY_KIND

    def score(self, ref: ColumnStats, current: np.ndarray) -> float:
        p, q = binned_frequencies(ref, current, fill_zeros=True)
        return float(np.sum(_rel_entr(p / p.sum(), q / q.sum())))


class HellingerMethod(_Distance):
    """Hellinger distance (``hellinger``).

    Categorical columns compare value frequencies. Numerical columns compare density histograms
    whose Sturges edges come from the *distinct* values of both sides, as Evidently does.
    """

    name: ClassVar[str] = "hellinger"
    applies_to: ClassVar[frozenset[ColumnKind]] = ANY_KIND

    def score(self, ref: ColumnStats, current: np.ndarray) -> float:
        if ref.kind != "numeric":
            _, reference_counts, current_counts = category_counts(ref, current)
            overlap = float(np.sum(np.sqrt((reference_counts / ref.n) * (current_counts / current.size))))
        else:
            distinct = np.union1d(ref.categories, current)
            edges = np.histogram_bin_edges(distinct, bins="sturges")
            h1 = np.histogram(ref.numbers, bins=edges, density=True)[0]
            h2 = np.histogram(current, bins=edges, density=True)[0]
            width = (edges.max() - edges.min()) / (edges.size - 1)
            overlap = float(np.sum(np.sqrt(h1 * h2) * width))
        return math.sqrt(1.0 - min(max(overlap, 0.0), 1.0))
