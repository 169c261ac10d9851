"""Tabular augmentations: pure NumPy functions of ``(X, y, rng)`` that return new rows only.

Labels are integer class indices (classification) or floats (regression); a float label
array is how a function knows it may interpolate labels instead of keeping the source's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def pick_rows(n: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Source rows for ``round(fraction * n)`` new rows, drawn with replacement."""
    count = int(round(fraction * n))
    return rng.integers(0, n, size=count) if n and count else np.zeros(0, dtype=np.int64)


def _regression(y: np.ndarray) -> bool:
    return y.dtype.kind == "f"


@dataclass(frozen=True)
class Noise:
    """Gaussian noise; its std is ``strength`` times each feature's std (or the overall std)."""

    strength: float = 0.05
    fraction: float = 0.5
    per_feature: bool = True
    name: str = "noise"

    def apply(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        rows = pick_rows(len(X), self.fraction, rng)
        scale = X.std(axis=0) if self.per_feature else np.full(X.shape[1], X.std())
        noise = rng.standard_normal((len(rows), X.shape[1])) * (self.strength * scale)
        return (X[rows] + noise).astype(X.dtype), y[rows].copy()


@dataclass(frozen=True)
class Mixup:
    """Blend each source row with a random partner, weight from ``Beta(strength, strength)``.

    Classifiers keep hard labels: the source row always carries the larger weight and its
    label. Regressors blend the labels with the same weight.
    """

    strength: float = 0.2
    fraction: float = 0.5
    name: str = "mixup"

    def apply(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        rows = pick_rows(len(X), self.fraction, rng)
        partners = rng.integers(0, len(X), size=len(rows))
        alpha = max(self.strength, 1e-3)
        lam = rng.beta(alpha, alpha, size=len(rows))
        if not _regression(y):
            lam = np.maximum(lam, 1.0 - lam)
        X_new = lam[:, None] * X[rows] + (1.0 - lam[:, None]) * X[partners]
        y_new = lam * y[rows] + (1.0 - lam) * y[partners] if _regression(y) else y[rows].copy()
        return X_new.astype(X.dtype), y_new.astype(y.dtype)


@dataclass(frozen=True)
class Smote:
    """SMOTE-style interpolation towards one of the ``k`` nearest rows of the same class.

    Regressors use the nearest rows overall and interpolate the label too. ``strength`` is
    the largest step towards the neighbour (1 = all the way, the classic SMOTE).
    """

    strength: float = 1.0
    fraction: float = 0.5
    k: int = 5
    name: str = "smote"

    def apply(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        rows = pick_rows(len(X), self.fraction, rng)
        groups = [np.arange(len(X))] if _regression(y) else [np.flatnonzero(y == c) for c in np.unique(y)]
        neighbour = rows.copy()
        for members in groups:
            k = min(self.k, len(members) - 1)
            all_sources = np.flatnonzero(np.isin(rows, members))
            # Chunks keep the distance matrix small on large tables.
            for start in range(0, len(all_sources) if k >= 1 else 0, 256):
                sources = all_sources[start : start + 256]
                a, b = X[rows[sources]].astype(np.float64), X[members].astype(np.float64)
                dist = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
                dist[members[None, :] == rows[sources, None]] = np.inf
                nearest = np.argpartition(dist, k - 1, axis=1)[:, :k]
                choice = nearest[np.arange(len(sources)), rng.integers(0, k, size=len(sources))]
                neighbour[sources] = members[choice]
        gap = rng.uniform(0.0, min(self.strength, 1.0), size=len(rows))
        X_new = X[rows] + gap[:, None] * (X[neighbour] - X[rows])
        y_new = y[rows] + gap * (y[neighbour] - y[rows]) if _regression(y) else y[rows].copy()
        return X_new.astype(X.dtype), y_new.astype(y.dtype)


@dataclass(frozen=True)
class Scale:
    """Multiply each new row by one gain drawn from ``[1 - strength, 1 + strength]``."""

    strength: float = 0.05
    fraction: float = 0.5
    name: str = "scale"

    def apply(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        rows = pick_rows(len(X), self.fraction, rng)
        gain = rng.uniform(1.0 - self.strength, 1.0 + self.strength, size=(len(rows), 1))
        return (X[rows] * gain).astype(X.dtype), y[rows].copy()
