"""Drift injected by the traffic replay: pure transforms of a batch of feature rows.

Kinds (``amount`` defaults in brackets):

* ``scale`` multiplies the chosen features by ``amount`` [1.5];
* ``shift`` adds ``amount`` standard deviations of each feature (measured on the base data) [1.0];
* ``noise`` adds Gaussian noise of ``amount`` standard deviations [0.5];
* ``image-shift`` treats each row as a square image (8×8 for digits) and moves it ``amount``
  pixels to the right (negative: left), as if the writing position changed [2];
* ``file`` switches to rows of another data file; the rows themselves are not transformed.

Features named in ``features`` are transformed; none named means all (``image-shift`` always
moves the whole image).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DRIFT_KINDS = ("scale", "shift", "noise", "file", "image-shift")
DEFAULT_AMOUNT = {"scale": 1.5, "shift": 1.0, "noise": 0.5, "file": 0.0, "image-shift": 2.0}


@dataclass(frozen=True)
class DriftSpec:
    """What drift to inject and from when: ``at_seconds`` after the start or after ``at_rows`` rows."""

    kind: str
    at_seconds: float | None = None
    at_rows: int | None = None
    features: tuple[str, ...] = ()
    amount: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in DRIFT_KINDS:
            raise ValueError(f"drift kind {self.kind!r}: expected one of {', '.join(DRIFT_KINDS)}")
        if (self.at_seconds is None) == (self.at_rows is None):
            raise ValueError("drift start: give exactly one of at_seconds or at_rows")
        if self.at_seconds is not None and not (self.at_seconds >= 0 and math.isfinite(self.at_seconds)):
            raise ValueError(f"drift at_seconds = {self.at_seconds}: expected a finite number >= 0")
        if self.at_rows is not None and self.at_rows < 0:
            raise ValueError(f"drift at_rows = {self.at_rows}: expected an integer >= 0")
        if self.amount is not None and not math.isfinite(self.amount):
            raise ValueError(f"drift amount = {self.amount}: expected a finite number")
        if self.kind == "image-shift" and self.amount is not None and self.amount != int(self.amount):
            raise ValueError(f"image-shift amount = {self.amount}: expected a whole number of pixels")

    @property
    def effective_amount(self) -> float:
        return DEFAULT_AMOUNT[self.kind] if self.amount is None else self.amount

    def started(self, elapsed_seconds: float, rows_sent: int) -> bool:
        if self.at_seconds is not None:
            return elapsed_seconds >= self.at_seconds - 1e-9  # tolerate float sums of tick intervals
        return rows_sent >= (self.at_rows or 0)


def shift_images(images: np.ndarray, dx: int, dy: int = 0, side: int = 8, fill: float = 0.0) -> np.ndarray:
    """Move each flattened ``side``×``side`` image by ``dx`` pixels right and ``dy`` down.

    Pixels that leave the frame are dropped and the vacated ones get ``fill``. The input is
    not modified.

    >>> shift_images(np.arange(4.0).reshape(1, 4), 1, side=2).tolist()
    [[0.0, 0.0, 0.0, 2.0]]
    """
    x = np.asarray(images)
    if x.ndim != 2 or x.shape[1] != side * side:
        raise ValueError(
            f"shift_images: expected rows of {side * side} pixels ({side}x{side}), got shape {x.shape}"
        )
    grid = x.reshape(-1, side, side)
    out = np.full_like(grid, fill)
    if abs(dx) < side and abs(dy) < side:
        src_r = slice(max(0, -dy), side - max(0, dy))
        dst_r = slice(max(0, dy), side - max(0, -dy))
        src_c = slice(max(0, -dx), side - max(0, dx))
        dst_c = slice(max(0, dx), side - max(0, -dx))
        out[:, dst_r, dst_c] = grid[:, src_r, src_c]
    return out.reshape(x.shape)


def feature_indices(columns: Sequence[str], chosen: Sequence[str]) -> list[int]:
    """Column positions of ``chosen`` (all columns when empty); unknown names are an error."""
    if not chosen:
        return list(range(len(columns)))
    unknown = [name for name in chosen if name not in columns]
    if unknown:
        raise ValueError(
            f"drift feature {unknown[0]!r} is not a data column; columns are {', '.join(columns[:10])}"
        )
    return [list(columns).index(name) for name in chosen]


def apply_drift(
    batch: np.ndarray,
    columns: Sequence[str],
    spec: DriftSpec,
    column_std: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """A drifted copy of ``batch`` (float rows in ``columns`` order); ``file`` drift returns it as is."""
    out = np.array(batch, dtype=np.float64, copy=True)
    amount = spec.effective_amount
    if spec.kind == "file":
        return out
    if spec.kind == "image-shift":
        side = math.isqrt(out.shape[1])
        return shift_images(out, int(amount), side=side)
    idx = feature_indices(columns, spec.features)
    if spec.kind == "scale":
        out[:, idx] *= amount
    elif spec.kind == "shift":
        out[:, idx] += amount * column_std[idx]
    elif spec.kind == "noise":
        out[:, idx] += rng.normal(size=(len(out), len(idx))) * (amount * column_std[idx])
    return out
