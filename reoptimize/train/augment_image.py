"""Image augmentations for flattened images (one row = one ``H x W`` image, row-major).

Each returns new rows only. Geometric changes fill uncovered pixels with the image's own
minimum (its background), since a zero may not be background after a user's own scaling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reoptimize.train.augment_tabular import pick_rows


def _images(X: np.ndarray, rows: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    picked: np.ndarray = X[rows]
    return picked.reshape(len(rows), *shape).astype(np.float64)


def _flat(images: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return images.reshape(len(images), -1).astype(dtype)


def affine_sample(images: np.ndarray, angle: np.ndarray, zoom: np.ndarray) -> np.ndarray:
    """Rotate by ``angle`` radians and zoom by ``zoom`` about the centre, bilinear, per image."""
    n, height, width = images.shape
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    rr, cc = np.meshgrid(np.arange(height) - cy, np.arange(width) - cx, indexing="ij")
    cos, sin = (np.cos(angle) / zoom)[:, None, None], (np.sin(angle) / zoom)[:, None, None]
    # Inverse map: where in the source each output pixel comes from.
    src_r = cos * rr[None] + sin * cc[None] + cy
    src_c = -sin * rr[None] + cos * cc[None] + cx
    r0, c0 = np.floor(src_r).astype(int), np.floor(src_c).astype(int)
    fr, fc = src_r - r0, src_c - c0
    fill = images.reshape(n, -1).min(axis=1)[:, None, None]
    index = np.arange(n)[:, None, None]
    out: np.ndarray = np.zeros_like(src_r)
    for dr, dc, weight in (
        (0, 0, (1 - fr) * (1 - fc)),
        (0, 1, (1 - fr) * fc),
        (1, 0, fr * (1 - fc)),
        (1, 1, fr * fc),
    ):
        r, c = r0 + dr, c0 + dc
        inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        value = images[index, np.clip(r, 0, height - 1), np.clip(c, 0, width - 1)]
        out += weight * np.where(inside, value, fill)
    return out


@dataclass(frozen=True)
class Shift:
    """Translate by whole pixels, up to ``max(1, ceil(strength * side))`` in each direction."""

    image_shape: tuple[int, int]
    strength: float = 0.05
    fraction: float = 0.5
    name: str = "shift"

    def apply(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        rows = pick_rows(len(X), self.fraction, rng)
        images = _images(X, rows, self.image_shape)
        height, width = self.image_shape
        m = max(1, math.ceil(self.strength * max(height, width)))
        padded = np.empty((len(rows), height + 2 * m, width + 2 * m))
        padded[:] = images.reshape(len(rows), -1).min(axis=1)[:, None, None] if len(rows) else 0.0
        padded[:, m : m + height, m : m + width] = images
        dy, dx = rng.integers(-m, m + 1, size=len(rows)), rng.integers(-m, m + 1, size=len(rows))
        r = (m - dy)[:, None] + np.arange(height)[None, :]
        c = (m - dx)[:, None] + np.arange(width)[None, :]
        shifted = padded[np.arange(len(rows))[:, None, None], r[:, :, None], c[:, None, :]]
        return _flat(shifted, X.dtype), y[rows].copy()


@dataclass(frozen=True)
class Rotate:
    """Rotate about the centre by an angle drawn from ``±strength * 180`` degrees."""

    image_shape: tuple[int, int]
    strength: float = 0.05
    fraction: float = 0.5
    name: str = "rotate"

    def apply(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        rows = pick_rows(len(X), self.fraction, rng)
        limit = self.strength * math.pi
        angle = rng.uniform(-limit, limit, size=len(rows))
        out = affine_sample(_images(X, rows, self.image_shape), angle, np.ones(len(rows)))
        return _flat(out, X.dtype), y[rows].copy()


@dataclass(frozen=True)
class Zoom:
    """Zoom about the centre by a factor drawn from ``[1 - strength, 1 + strength]``."""

    image_shape: tuple[int, int]
    strength: float = 0.05
    fraction: float = 0.5
    name: str = "scale"

    def apply(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        rows = pick_rows(len(X), self.fraction, rng)
        zoom = rng.uniform(1.0 - min(self.strength, 0.9), 1.0 + self.strength, size=len(rows))
        out = affine_sample(_images(X, rows, self.image_shape), np.zeros(len(rows)), zoom)
        return _flat(out, X.dtype), y[rows].copy()


@dataclass(frozen=True)
class Blur:
    """Gaussian blur with sigma ``max(0.5, strength * side)`` pixels, edges repeated."""

    image_shape: tuple[int, int]
    strength: float = 0.05
    fraction: float = 0.5
    name: str = "blur"

    def apply(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        rows = pick_rows(len(X), self.fraction, rng)
        images = _images(X, rows, self.image_shape)
        sigma = max(0.5, self.strength * max(self.image_shape))
        radius = max(1, math.ceil(2 * sigma))
        taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
        taps /= taps.sum()
        for axis in (1, 2):
            pad = [(0, 0)] * 3
            pad[axis] = (radius, radius)
            padded = np.pad(images, pad, mode="edge")
            size = images.shape[axis]
            images = sum(w * np.take(padded, np.arange(i, i + size), axis=axis) for i, w in enumerate(taps))
        return _flat(images, X.dtype), y[rows].copy()
