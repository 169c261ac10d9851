"""Turning a reference and a current sample into aligned frequency vectors.

This mirrors ``evidently.legacy.calculations.stattests.utils.get_binned_data``:

- a numerical column whose *reference* has more than 20 distinct values is cut into equal-width
  bins whose edges come from ``np.histogram_bin_edges(reference + current, bins="sturges")``;
- any other column is counted per value, over every value seen on either side, so a category
  absent from one side gets a frequency of 0 there;
- frequencies are counts divided by the sample size;
- PSI and KL divergence then replace zeros ("fill zeroes"): by the side's smallest non-zero
  frequency / 1e6 when that is <= 0.0001, else by 0.0001. Jensen-Shannon keeps the zeros.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from monitor.drift.stats import ColumnStats

HISTOGRAM_MIN_UNIQUE = 20


def category_counts(ref: ColumnStats, current: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(keys, reference counts, current counts) over the sorted union of values on both sides."""
    current_values, current_counts = np.unique(current, return_counts=True)
    keys = np.union1d(ref.categories, current_values)
    reference_aligned = np.zeros(keys.size)
    reference_aligned[np.searchsorted(keys, ref.categories)] = ref.counts
    current_aligned = np.zeros(keys.size)
    current_aligned[np.searchsorted(keys, current_values)] = current_counts
    return keys, reference_aligned, current_aligned


def sorted_histogram(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``np.histogram(values, edges)[0]`` for sorted values that all lie within the edges."""
    starts = np.searchsorted(sorted_values, edges, side="left")
    # The last bin is closed on the right, so it takes everything from its left edge up.
    starts[-1] = sorted_values.size
    return np.diff(starts)


def binned_frequencies(
    ref: ColumnStats, current: np.ndarray, *, fill_zeros: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Aligned (reference, current) frequencies, binned the way Evidently bins for this column."""
    if ref.kind == "numeric" and ref.n_unique > HISTOGRAM_MIN_UNIQUE:
        edges = np.histogram_bin_edges(np.concatenate([ref.numbers, current]), bins="sturges")
        reference_counts = sorted_histogram(ref.numbers, edges)
        current_counts = np.histogram(current, edges)[0]
    else:
        _, reference_counts, current_counts = category_counts(ref, current)
    reference = reference_counts / ref.n
    observed = current_counts / current.size
    if fill_zeros:
        reference, observed = _fill_zeros(reference), _fill_zeros(observed)
    return reference, observed


def _fill_zeros(frequencies: np.ndarray) -> np.ndarray:
    smallest = frequencies[frequencies != 0].min()
    filler = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return np.where(frequencies == 0, filler, frequencies)
