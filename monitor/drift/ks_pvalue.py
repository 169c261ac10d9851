"""The two-sided p-value of the two-sample Kolmogorov-Smirnov statistic.

It follows the choices of ``scipy.stats.ks_2samp(method="auto")``, which Evidently calls: the exact
distribution when both samples have at most 10 000 values, Smirnov's asymptotic one (``kstwo`` at
the effective size ``n1*n2/(n1+n2)``) otherwise. Taking the statistic as an argument lets the
caller compute it from a reference that was sorted once.
"""

from __future__ import annotations

import math

import numpy as np

EXACT_MAX_N = 10_000
# Each row grows the counts by at most its width (< 2**14 here), so rescaling only past 1e200
# keeps them far from overflow.
_RESCALE_ABOVE = 1e200
# In the far tail the exact p-value lies below the limiting Kolmogorov one; under this bound it is
# zero at the precision of 1 - P(inside) (about 1e-12), so the path count is skipped.
_NEGLIGIBLE = 1e-14


def ks_two_sample_pvalue(statistic: float, n1: int, n2: int) -> float:
    """P(D >= statistic) for samples of sizes n1 and n2 under the null hypothesis."""
    if n1 <= 0 or n2 <= 0:
        raise ValueError(f"sample sizes must be positive, got n1={n1}, n2={n2}")
    # scipy costs the daemon ~27 MB resident; only p-value tests (small references) load it.
    from scipy.special import kolmogorov

    if max(n1, n2) <= EXACT_MAX_N:
        g = math.gcd(n1, n2)
        lcm = (n1 // g) * n2
        # D is a multiple of 1/lcm; rounding removes the float noise of the CDF differences.
        h = int(np.round(statistic * lcm))
        if h == 0:
            return 1.0
        if kolmogorov(math.sqrt(n1 * n2 / (n1 + n2)) * statistic) < _NEGLIGIBLE:
            return 0.0
        return min(max(1.0 - _probability_inside(n1, n2, h * g), 0.0), 1.0)
    from scipy.stats import kstwo

    effective = float(np.round(n1 * n2 / (n1 + n2)))
    return min(max(float(kstwo.sf(statistic, effective)), 0.0), 1.0)


def _log_binomial(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _probability_inside(n1: int, n2: int, bound: int) -> float:
    """Share of monotone lattice paths (0,0)->(n1,n2) that keep |n2*x - n1*y| < bound.

    A path is one interleaving of the two sorted samples, all equally likely under the null. Row x
    of the dynamic programme counts the paths reaching (x, y) inside the band; a path enters row x
    from (x-1, y') and climbs to y, so each row is a cumulative sum of the previous one over the
    band. Rows are rescaled as they go, because the counts overflow a float long before n = 1000.
    """
    if n1 > n2:
        n1, n2 = n2, n1
    row = np.zeros(n2 + 1)
    row_lo, row_hi = 0, min(-(-bound // n1) - 1, n2)
    row[: row_hi + 1] = 1.0
    log_scale = 0.0
    for x in range(1, n1 + 1):
        lo = max((n2 * x - bound) // n1 + 1, 0)
        hi = min(-(-(n2 * x + bound) // n1) - 1, n2)
        if lo > min(hi, row_hi):
            return 0.0
        # Both band edges only move up. Above row_hi the previous row is zero, so the running sum
        # in place over [lo, hi] is the new row; cells below lo leave the band.
        row[row_lo:lo] = 0.0
        band = row[lo : hi + 1]
        band.cumsum(out=band)
        row_lo, row_hi = lo, hi
        top = band[-1]
        if top > _RESCALE_ABOVE:
            band *= 1.0 / top
            log_scale += math.log(top)
    if row_hi != n2 or row[n2] <= 0.0:
        return 0.0
    return math.exp(math.log(row[n2]) + log_scale - _log_binomial(n1 + n2, n1))
