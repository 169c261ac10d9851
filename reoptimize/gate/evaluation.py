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
from reoptimize.train.tables import to_scalar

MAX_TRAIN_ROWS = 5000


def macro_f1(truth: Sequence[Any], predicted: Sequence[Any]) -> float:
    """Unweighted mean of per-class F1 over every label seen in either sequence."""
    t = np.array([to_scalar(v) for v in truth], dtype=object)
    p = np.array([to_scalar(v) for v in predicted], dtype=object)
    scores = []
    for label in set(t.tolist()) | set(p.tolist()):
        tp = int(np.sum((t == label) & (p == label)))
        fp = int(np.sum((t != label) & (p == label)))
        fn = int(np.sum((t == label) & (p != label)))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def _labelled(df: pd.DataFrame | None, label: str) -> pd.DataFrame | None:
    if df is None or label not in df.columns:
        return None
    df = df[df[label].notna()]
    return df if len(df) else None


def _quality(
    model: Any, df: pd.DataFrame | None, features: Sequence[str], label: str, task: str
) -> dict[str, float]:
    if df is None:
        return {}
    predicted = model.run(df[list(features)].to_numpy(dtype=np.float32)).labels
    truth = df[label].tolist()
    if task == "regression":
        err = np.asarray(predicted, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
        return {"mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err**2)))}
    hits = np.array([to_scalar(a) == to_scalar(b) for a, b in zip(predicted, truth, strict=True)])
    return {"accuracy": float(hits.mean()), "f1": macro_f1(truth, predicted)}


def _timing_rows(frames: Sequence[pd.DataFrame | None], features: Sequence[str]) -> np.ndarray:
    for df in frames:
        if df is not None and len(df):
            return df[list(features)].to_numpy(dtype=np.float32)
    raise ValueError("evaluate: no rows to time the models on (holdout, recent and train are all empty)")


def evaluate(
    models: Mapping[str, bytes],
    holdout: pd.DataFrame | None,
    recent_eval: pd.DataFrame | None,
    train: pd.DataFrame | Mapping[str, pd.DataFrame | None] | None,
    *,
    task: str,
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
        fit = _quality(model, trains[name], features, label, task)
        key = "accuracy" if task == "classification" else "rmse"
        gap = None
        if key in fit and key in hold:
            gap = fit[key] - hold[key] if task == "classification" else hold[key] - fit[key]
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
            train_rows=0 if trains[name] is None else len(trains[name]),
        )
    return out
