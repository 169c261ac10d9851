"""Confidence-based performance estimation: accuracy without labels, as NannyML's CBPE does.

On the reference data the model's confidence (its largest class probability) is calibrated
against whether its prediction was right, with isotonic regression (pool adjacent violators,
NumPy only). On a window without labels the expected accuracy is the mean calibrated
probability of being right::

    calibration = fit_calibration(reference_confidence, reference_correct)
    estimate_accuracy(calibration, window_confidence)      # ~ the accuracy labels would show

The estimate holds under covariate shift (inputs move, the confidence-to-correctness relation
stays); under concept drift only labels tell. The check reports it beside the real accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MIN_ROWS = 50


@dataclass(frozen=True, eq=False)
class Calibration:
    """A non-decreasing map from confidence to P(correct): linear between ``points``, flat outside."""

    points: npt.NDArray[np.float64]  # confidences, increasing
    values: npt.NDArray[np.float64]  # calibrated P(correct) at those confidences, non-decreasing
    rows: int
    reference_accuracy: float

    def __call__(self, confidence: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(confidence, dtype=np.float64), self.points, self.values)


def isotonic_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares non-decreasing fit of ``y`` on ``x``; returns (distinct x, fitted value at each)."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order].astype(np.float64)
    distinct, start = np.unique(xs, return_index=True)
    weights = np.diff(np.append(start, xs.size)).astype(np.float64)
    means = np.add.reduceat(ys, start) / weights
    # Pool adjacent violators over the distinct x values: merge blocks until means never decrease.
    block_mean: list[float] = []
    block_weight: list[float] = []
    block_size: list[int] = []
    for mean, weight in zip(means.tolist(), weights.tolist(), strict=True):
        block_mean.append(mean)
        block_weight.append(weight)
        block_size.append(1)
        while len(block_mean) > 1 and block_mean[-2] > block_mean[-1]:
            w = block_weight[-2] + block_weight[-1]
            m = (block_mean[-2] * block_weight[-2] + block_mean[-1] * block_weight[-1]) / w
            size = block_size[-2] + block_size[-1]
            del block_mean[-1], block_weight[-1], block_size[-1]
            block_mean[-1], block_weight[-1], block_size[-1] = m, w, size
    fitted = np.repeat(np.array(block_mean), np.array(block_size))
    return distinct, fitted


def fit_calibration(confidence: np.ndarray, correct: np.ndarray) -> Calibration | None:
    """Calibrate on reference rows; ``None`` with fewer than ``MIN_ROWS`` rows that have a confidence."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    usable = np.isfinite(confidence)
    if int(usable.sum()) < MIN_ROWS:
        return None
    points, values = isotonic_fit(confidence[usable], correct[usable])
    # Keep only the ends of each flat block: the map stays the same and the stored arrays stay small.
    keep = np.ones(points.size, dtype=bool)
    if points.size > 2:
        same_as_prev = np.r_[False, values[1:] == values[:-1]]
        same_as_next = np.r_[values[:-1] == values[1:], False]
        keep = ~(same_as_prev & same_as_next)
    return Calibration(
        points=points[keep],
        values=values[keep],
        rows=int(usable.sum()),
        reference_accuracy=float(correct[usable].mean()),
    )


def estimate_accuracy(calibration: Calibration | None, confidence: np.ndarray) -> float | None:
    """Expected accuracy over the rows that logged a confidence; ``None`` when there is none."""
    if calibration is None:
        return None
    confidence = np.asarray(confidence, dtype=np.float64)
    usable = confidence[np.isfinite(confidence)]
    if usable.size == 0:
        return None
    return float(calibration(usable).mean())
