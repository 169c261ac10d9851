"""Data distillation: recent unlabelled traffic, labelled by the champion where it is confident.

Labels arrive late or never for most traffic. The rows the current model classifies with a
confidence of at least ``threshold`` get its prediction as their label and join the training
rows; the others stay out, since a wrong pseudo-label teaches the mistake again. Only
classifiers give a confidence, so regressors take no pseudo-labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from reoptimize.steps.step import Candidate
from reoptimize.tasks.task import task_named
from reoptimize.train.tables import to_scalar


def teacher_labels(
    teacher: Candidate, rows: pd.DataFrame, features: Sequence[str], label: str, threshold: float
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``(labelled rows, info)``: the rows the teacher labels with confidence >= ``threshold``."""
    from reoptimize.onnx.onnx_model import OnnxModel

    info: dict[str, Any] = {"threshold": threshold, "offered": int(len(rows)), "kept": 0}
    empty = pd.DataFrame(columns=[*features, label])
    if not task_named(teacher.task).has_classes:
        return empty, {**info, "skipped": "regressors give no confidence"}
    if not len(rows):
        return empty, info
    model = OnnxModel(
        teacher.onnx_bytes, task=teacher.task, classes=teacher.classes, source=f"teacher {teacher.name}"
    )
    x = rows[list(features)].to_numpy(np.float32)
    predicted = model.run(x)
    if predicted.proba is None:
        return empty, {**info, "skipped": "the teacher outputs no probabilities"}
    confident = predicted.proba.max(axis=1) >= threshold
    labels = [to_scalar(v) for v, keep in zip(predicted.labels, confident, strict=True) if keep]
    out = rows.loc[confident, list(features)].copy()
    out[label] = labels
    counts = pd.Series(labels, dtype=object).value_counts().to_dict() if labels else {}
    return out, {**info, "kept": int(confident.sum()), "classes": {str(k): int(v) for k, v in counts.items()}}
