"""Measure several ONNX models in one run, on the same rows and the same CPU.

Quality comes from batch predictions on the holdout, the recent evaluation rows and the
training rows. Speed comes from :func:`reoptimize.gate.timing.measure_speed`: the models are
timed interleaved, in blocks, and the figures are medians, so a noisy neighbour or a
frequency change hits all of them alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from reoptimize.gate.candidate_metrics import CandidateMetrics
from reoptimize.gate.timing import measure_speed
from reoptimize.tasks.classification import macro_f1 as _macro_f1
from reoptimize.tasks.task import Task, task_named
from reoptimize.train.tables import to_scalar

MAX_TRAIN_ROWS = 5000


def macro_f1(truth: Sequence[Any], predicted: Sequence[Any]) -> float:
    """Unweighted mean of per-class F1 over every label seen in either sequence."""
    return _macro_f1([to_scalar(v) for v in truth], [to_scalar(v) for v in predicted])


def _labelled(df: pd.DataFrame | None, label: str) -> pd.DataFrame | None:
    if df is None or label not in df.columns:
        return None
    df = df[df[label].notna()]
    return df if len(df) else None


def _quality(
    model: Any, df: pd.DataFrame | None, features: Sequence[str], label: str, task: Task
) -> dict[str, float]:
    if df is None:
        return {}
    predicted = model.run(df[list(features)].to_numpy(dtype=np.float32)).labels
    truth = df[label].tolist()
    return task.quality([to_scalar(v) for v in predicted], [to_scalar(v) for v in truth])


def _timing_rows(frames: Sequence[pd.DataFrame | None], features: Sequence[str]) -> np.ndarray:
    for df in frames:
        if df is not None and len(df):
            rows: np.ndarray = df[list(features)].to_numpy(dtype=np.float32)
            return rows
    raise ValueError("evaluate: no rows to time the models on (holdout, recent and train are all empty)")


def evaluate(
    models: Mapping[str, bytes],
    holdout: pd.DataFrame | None,
    recent_eval: pd.DataFrame | None,
    train: pd.DataFrame | Mapping[str, pd.DataFrame | None] | None,
    *,
    task: str | Task,
    features: Sequence[str],
    label: str,
    classes: Sequence[Any] | Mapping[str, Sequence[Any]] = (),
    cost: Mapping[str, Any] | None = None,
    latency_runs: int = 600,
    warmup_runs: int = 30,
    batch_rows: int = 256,
    batch_runs: int = 30,
    blocks: int = 5,
    timer: Callable[[], float] = time.perf_counter,
) -> dict[str, CandidateMetrics]:
    """Measure every model in ``models`` (name -> ONNX bytes) and return metrics by name.

    ``classes`` and ``train`` are shared by all models or given per model as a mapping
    name -> value (each model's own training rows give its ``train_accuracy``). ``cost`` holds
    ``cpu_price_per_hour`` (default 0). Frames hold the feature columns and ``label``;
    rows without a label are skipped for quality, and a missing frame gives ``None`` metrics.
    """
    from reoptimize.onnx.onnx_model import OnnxModel

    if not models:
        raise ValueError("evaluate: no models given")
    task = task_named(task)
    price = float((cost or {}).get("cpu_price_per_hour", 0.0))
    holdout, recent_eval = _labelled(holdout, label), _labelled(recent_eval, label)
    trains = {
        name: _labelled(train.get(name) if isinstance(train, Mapping) else train, label) for name in models
    }
    for name, frame in trains.items():
        if frame is not None and len(frame) > MAX_TRAIN_ROWS:
            trains[name] = frame.sample(MAX_TRAIN_ROWS, random_state=0)
    loaded = {}
    for name, data in models.items():
        model_classes = classes.get(name, ()) if isinstance(classes, Mapping) else classes
        loaded[name] = OnnxModel(data, task=task, classes=model_classes, threads=1, source=name)

    rows = _timing_rows((holdout, recent_eval, *trains.values()), features)
    speeds = measure_speed(
        loaded,
        rows,
        latency_runs=latency_runs,
        warmup_runs=warmup_runs,
        batch_rows=batch_rows,
        batch_runs=batch_runs,
        blocks=blocks,
        timer=timer,
    )

    out = {}
    for name, model in loaded.items():
        hold = _quality(model, holdout, features, label, task)
        recent = _quality(model, recent_eval, features, label, task)
        own_train = trains[name]
        fit = _quality(model, own_train, features, label, task)
        key = task.primary_metric
        gap = task.fit_gap(fit[key], hold[key]) if key in fit and key in hold else None
        speed = speeds[name]
        cpu_per_1k = speed.latency_mean_seconds * 1000.0
        out[name] = CandidateMetrics(
            holdout_accuracy=hold.get("accuracy"),
            recent_accuracy=recent.get("accuracy"),
            train_accuracy=fit.get("accuracy"),
            train_holdout_gap=gap,
            f1=hold.get("f1"),
            recent_f1=recent.get("f1"),
            mae=hold.get("mae"),
            rmse=hold.get("rmse"),
            recent_mae=recent.get("mae"),
            recent_rmse=recent.get("rmse"),
            latency_p50_seconds=speed.latency_p50_seconds,
            latency_p95_seconds=speed.latency_p95_seconds,
            batch_latency_seconds=speed.batch_seconds,
            batch_throughput_rows_per_second=speed.throughput_rows_per_second,
            cpu_seconds_per_1k_predictions=cpu_per_1k,
            cost_per_1k_predictions=cpu_per_1k * price / 3600.0,
            model_size_bytes=len(models[name]),
            holdout_rows=0 if holdout is None else len(holdout),
            recent_rows=0 if recent_eval is None else len(recent_eval),
            train_rows=0 if own_train is None else len(own_train),
        )
    return out
