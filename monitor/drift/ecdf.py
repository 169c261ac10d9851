"""Empirical CDFs of a pre-sorted reference and a current sample, evaluated on their merged values.

The reference is sorted once per reference version; a check sorts only the current window and
merges the two sorted runs. A stable sort of two concatenated sorted runs is Timsort's linear
merge, which also says which side each merged value came from. ``scipy.stats.wasserstein_distance``
and ``ks_2samp`` instead sort both samples and search the concatenation on every call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class MergedCdfs:
    """CDF values just right of every merged point but the last, and the gaps to the next point.

    Where a value repeats, the gap is 0 and the CDF values there are partial counts; distances
    weight them by the zero gap, and the K-S statistic skips them.
    """

    reference: np.ndarray
    current: np.ndarray
    gaps: np.ndarray


def merge_cdfs(reference_sorted: np.ndarray, current: np.ndarray) -> MergedCdfs:
    """Both empirical CDFs on the merged sample. ``current`` need not be sorted; neither may be empty."""
    n_ref, n_cur = reference_sorted.size, current.size
    both = np.concatenate([reference_sorted, np.sort(current)])
    order = np.argsort(both, kind="stable")
    current_counts = np.cumsum(order[:-1] >= n_ref, dtype=np.int64)
    reference_counts = np.arange(1, n_ref + n_cur, dtype=np.int64) - current_counts
    return MergedCdfs(reference_counts / n_ref, current_counts / n_cur, np.diff(both[order]))


def ks_statistic(cdfs: MergedCdfs) -> float:
    """The two-sided K-S statistic: the largest CDF difference at the end of a run of equal values."""
    run_ends = cdfs.gaps > 0
    if not run_ends.any():
        return 0.0
    return float(np.max(np.abs(cdfs.reference[run_ends] - cdfs.current[run_ends])))


def wasserstein(cdfs: MergedCdfs) -> float:
    """First Wasserstein distance: the area between the two CDFs."""
    return float(np.abs(cdfs.reference - cdfs.current) @ cdfs.gaps)


def energy_distance(cdfs: MergedCdfs) -> float:
    """Energy distance as scipy defines it: sqrt(2) times the L2 distance between the CDFs."""
    return float(np.sqrt(2.0) * np.sqrt(np.square(cdfs.reference - cdfs.current) @ cdfs.gaps))
