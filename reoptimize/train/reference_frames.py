"""Reference frames: rows a version is monitored against, with that version's own predictions."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from reoptimize.tasks.task import task_named

PREDICTION = "_prediction"
CONFIDENCE = "_confidence"


def predict_frame(model: Any, df: pd.DataFrame, features: Sequence[str], chunk: int = 4096) -> pd.DataFrame:
    """A copy of ``df`` with ``_prediction`` and, for classifiers, ``_confidence`` (max probability).

    ``model`` is an :class:`reoptimize.onnx.onnx_model.OnnxModel`.
    """
    out = df.copy()
    labels: list[Any] = []
    confidence: list[np.ndarray] = []
    x = df[list(features)].to_numpy(dtype=np.float32)
    for start in range(0, len(x), chunk):
        pred = model.run(x[start : start + chunk])
        labels.extend(pred.labels)
        if pred.proba is not None:
            confidence.append(pred.proba.max(axis=1).astype(np.float64))
    out[PREDICTION] = labels
    if task_named(model.task).has_classes:
        out[CONFIDENCE] = np.concatenate(confidence) if confidence else np.full(len(df), np.nan)
    return out


def parquet_bytes(df: pd.DataFrame) -> bytes:
    """Serialize a frame as Parquet, index included (split keys are index labels)."""
    buffer = io.BytesIO()
    df.to_parquet(buffer, index=True)
    return buffer.getvalue()


def read_parquet_bytes(data: bytes) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(data))
