"""The demo's data: scikit-learn's bundled digits, split into a training pool and a traffic stream.

The drift is a change of writing position: from a moment on, every digit arrives written one
pixel further right. Baseline and drifted traffic are disjoint rows, so no image the
retrained model learned from is ever used to judge it afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.replay.drift_injection import shift_images

LABEL = "digit"
FEATURES = tuple(f"px_{i}" for i in range(64))


@dataclass(frozen=True)
class DemoData:
    training: Path  # version 1 is trained on this (its holdout is split from it)
    baseline: Path  # traffic before the drift
    drifted: Path  # traffic after the drift, shifted one pixel right
    baseline_rows: int
    drifted_rows: int


def _write(frame_rows: np.ndarray, labels: np.ndarray, path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(frame_rows.astype(np.float64), columns=list(FEATURES))
    frame[LABEL] = labels.astype(int)
    frame.to_parquet(path, index=False)


def prepare(folder: Path, seed: int = 0, training_rows: int = 540, baseline_rows: int = 150) -> DemoData:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    folder.mkdir(parents=True, exist_ok=True)
    train = slice(0, training_rows)
    base = slice(training_rows, training_rows + baseline_rows)
    drift = slice(training_rows + baseline_rows, None)
    paths = DemoData(
        training=folder / "digits-training.parquet",
        baseline=folder / "digits-traffic.parquet",
        drifted=folder / "digits-traffic-shifted.parquet",
        baseline_rows=baseline_rows,
        drifted_rows=len(x) - training_rows - baseline_rows,
    )
    _write(x[train], y[train], paths.training)
    _write(x[base], y[base], paths.baseline)
    _write(shift_images(x[drift], dx=1), y[drift], paths.drifted)
    return paths
