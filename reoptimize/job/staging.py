"""Writing a candidate into the registry as a new version (never as production)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from reoptimize.registry.manifest import Manifest
from reoptimize.registry.registry import Registry
from reoptimize.steps.step import Candidate
from reoptimize.train.reference_frames import parquet_bytes, predict_frame

MIN_REFERENCE_ROWS = 100


def new_reference(
    candidate: Candidate,
    recent: pd.DataFrame,
    unlabelled: pd.DataFrame | None,
    old_reference: pd.DataFrame,
    features: Sequence[str],
    label: str,
    min_rows: int = MIN_REFERENCE_ROWS,
    since: float | None = None,
) -> pd.DataFrame:
    """The recent window (labelled and unlabelled rows) as the new version's reference.

    With ``since``, only rows whose ``ts`` is at or after it count as recent. The candidate's
    ``_prediction``/``_confidence`` are added. A small window would make drift tests noisy, so
    below ``min_rows`` rows it is topped up with a fixed sample of the old reference.
    ``_source`` says where each row came from.
    """
    from reoptimize.onnx.onnx_model import OnnxModel

    def part(frame: pd.DataFrame, source: str) -> pd.DataFrame:
        if since is not None and "ts" in frame.columns:
            frame = frame[_epoch_seconds(frame["ts"]) >= since]
        return frame[[c for c in (*features, label) if c in frame.columns]].assign(_source=source)

    frames = [part(recent, "recent")]
    if unlabelled is not None and len(unlabelled):
        frames.append(part(unlabelled, "recent_unlabelled"))
    missing = min_rows - sum(len(f) for f in frames)
    if missing > 0 and len(old_reference):
        sample = old_reference.sample(min(missing, len(old_reference)), random_state=0)
        frames.append(part(sample, "previous_reference"))
    frame = pd.concat(frames, ignore_index=True)
    model = OnnxModel(
        candidate.onnx_bytes, task=candidate.task, classes=candidate.classes, source=candidate.name
    )
    return predict_frame(model, frame, features)


def _epoch_seconds(ts: pd.Series) -> np.ndarray:
    seconds: np.ndarray  # pandas is untyped here
    if pd.api.types.is_datetime64_any_dtype(ts):
        seconds = ts.map(lambda t: t.timestamp()).to_numpy(dtype=float)
    else:
        seconds = ts.to_numpy(dtype=float)
    return seconds


def stage_version(
    registry: Registry,
    model: str,
    candidate: Candidate,
    *,
    parent: str,
    reference: pd.DataFrame,
    holdout_bytes: bytes,
    features: Sequence[str],
    label: str,
    metrics: Mapping[str, Any],
    lineage: Mapping[str, Any],
    version_lineage: Callable[[str], Mapping[str, Any]] = lambda version: {},
) -> Manifest:
    """Add the candidate as the registry's next version, with its model card; production stays.

    ``version_lineage(version)`` gives the lineage entries that name the new version itself.
    """
    from reoptimize.cards.model_card import add_version_with_card

    files: dict[str, bytes] = {
        "model.onnx": candidate.onnx_bytes,
        "reference.parquet": parquet_bytes(reference),
        "holdout.parquet": holdout_bytes,
    }
    if candidate.weights is not None:
        files["weights.safetensors"] = candidate.weights
    return add_version_with_card(
        registry,
        model,
        files,
        parent=parent,
        task=candidate.task,
        features=features,
        label=label,
        classes=candidate.classes,
        metrics=metrics,
        lineage=lineage,
        extra=candidate.stats,
        reference=reference,
        version_lineage=version_lineage,
    )
