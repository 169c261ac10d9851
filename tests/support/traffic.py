"""Models, reference data and prediction logs made at test time (nothing from the repository).

The classifier is a real ONNX softmax model; its labels are drawn from its own probabilities,
so its confidence is calibrated by construction and the true accuracy of any window is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from reoptimize.job.first_versions import register_version
from reoptimize.onnx.onnx_model import OnnxModel
from reoptimize.registry.manifest import Manifest
from reoptimize.registry.registry import Registry
from serving.prediction_log_writer import PredictionEntry, PredictionLogWriter
from tests.support.onnx_models import linear_classifier


def sample_labels(proba: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One class index per row, drawn from the row's probabilities."""
    cumulative = proba.cumsum(axis=1)
    draws = rng.random((len(proba), 1)) * cumulative[:, -1:]
    return (draws > cumulative).sum(axis=1)


def register_classifier(
    registry: Registry,
    model: str,
    weights: np.ndarray,
    reference: np.ndarray,
    features: Sequence[str],
    rng: np.random.Generator,
) -> tuple[Manifest, bytes]:
    """Register a linear softmax classifier with ``reference`` rows and labels drawn from it."""
    onnx_bytes = linear_classifier(weights)
    proba = OnnxModel(onnx_bytes).run(reference.astype(np.float32)).proba
    frame = pd.DataFrame(reference, columns=list(features))
    frame["label"] = sample_labels(proba, rng)
    classes = list(range(weights.shape[1]))
    manifest = register_version(
        registry, model, onnx_bytes, frame, tuple(features), "label", task="classification", classes=classes
    )
    return manifest, onnx_bytes


def log_traffic(
    directory: Path,
    model: str,
    version: str,
    onnx_bytes: bytes,
    rows: np.ndarray,
    features: Sequence[str],
    t0: float,
    step: float = 0.01,
    prefix: str = "r",
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Predict ``rows`` with the model and log them one per ``step`` seconds from ``t0``.

    Returns (request ids, predicted class indices, probabilities).
    """
    runner = OnnxModel(onnx_bytes, classes=[])
    proba = runner.run(rows.astype(np.float32)).proba
    predictions = proba.argmax(axis=1)
    ids = [f"{prefix}{i}" for i in range(len(rows))]
    clock = iter(t0 + step * np.arange(len(rows)))
    with PredictionLogWriter(directory, model, clock=lambda: float(next(clock))) as writer:
        for i, row in enumerate(rows):
            entry = PredictionEntry(ids[i], version, dict(zip(features, row.tolist(), strict=True)),
                                    int(predictions[i]), proba[i].tolist())  # fmt: skip
            writer.write([entry])
    return ids, predictions, proba
