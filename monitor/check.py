"""One check of one model: serving signals, drift, data quality and accuracy, as Measurements."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from monitor.config import ModelConfig
from monitor.drift.engine import DriftResult, detect_drift
from monitor.measurements import FeatureScore, Measurements
from monitor.model_view import ModelView, load_view
from monitor.performance import classification_metrics, join_labels, per_class_recall, regression_metrics
from monitor.quality import missing_ratio, out_of_range_ratio
from monitor.sources.base import ServingSignals, ServingSource
from monitor.sources.prediction_log import PredictionWindow
from reoptimize.registry import FileRegistry

LabelLookup = Callable[[ModelConfig, float], Mapping[str, Any]]
MIN_LABELS = 20


@dataclass(frozen=True)
class CheckOutcome:
    measurements: Measurements
    window: PredictionWindow | None
    drift: DriftResult | None
    serving: ServingSignals
    details: Mapping[str, Any]


class Checker:
    """Runs checks; holds one :class:`ModelView` per model, rebuilt when production changes."""

    def __init__(self, registry: FileRegistry, serving: ServingSource, labels: LabelLookup):
        self.registry = registry
        self.serving = serving
        self.labels = labels
        self.views: dict[str, ModelView] = {}

    def view(self, model: ModelConfig) -> ModelView | None:
        version = self.registry.production(model.name)
        if version is None:
            return None
        current = self.views.get(model.name)
        if current is None or current.version != version:
            current = load_view(self.registry, model, version, current)
            self.views[model.name] = current
        return current

    def check(self, model: ModelConfig, now: float) -> CheckOutcome:
        serving = self.serving.read(model, now)
        values: dict[str, float | None] = dict(serving.values)
        notes = [f"{serving.source}: {serving.reason}"] if serving.reason else []
        view = self.view(model)
        if view is None:
            notes.append(f"{model.name} has no production version in the registry")
            m = Measurements(model=model.name, version=None, at=now, values=values, notes=tuple(notes))
            return CheckOutcome(m, None, None, serving, {"serving_up": serving.up})
        window = view.reader.window(now - model.check.window, now)
        values.update(self._quality(view, window))
        values["model_size_bytes"] = view.model_size_bytes
        gap = view.manifest.metrics.get("train_holdout_gap")
        values["train_holdout_gap"] = gap if isinstance(gap, int | float) else None
        drift = None
        if window.rows >= model.check.min_rows:
            current = dict(window.columns)
            current["_prediction"] = window.predictions
            drift = detect_drift(view.stats, current, drift_share=model.check.drift_share)
            values.update(_drift_values(drift))
        else:
            notes.append(
                f"{window.rows} rows in the window, fewer than min_rows={model.check.min_rows}: drift unknown"
            )
        perf, recall = self._performance(model, view, window, now)
        values.update(perf)
        features = tuple(
            FeatureScore(f.column, f.method, f.score, f.threshold, f.drifted, getattr(f, "error", None))
            for f in (drift.features if drift else ())
        )
        details = {"serving_up": serving.up, "serving_source": serving.source, "per_class_recall": recall}
        m = Measurements(
            model=model.name,
            version=view.version,
            at=now,
            values=values,
            features=features,
            notes=tuple(notes),
        )
        return CheckOutcome(m, window, drift, serving, details)

    def _quality(self, view: ModelView, window: PredictionWindow) -> dict[str, float | None]:
        return {
            "rows": window.rows,
            "missing_ratio": missing_ratio(window.columns) if window.rows else None,
            "out_of_range_ratio": out_of_range_ratio(window.columns, view.ranges) if window.rows else None,
            "schema_errors": window.schema_errors,
            "bad_log_lines": window.bad_lines,
        }

    def _performance(
        self, model: ModelConfig, view: ModelView, window: PredictionWindow, now: float
    ) -> tuple[dict[str, float | None], dict[str, float]]:
        mine = window.versions == view.version
        if not window.rows or not mine.any():
            return {"labelled_rows": 0}, {}
        labels = self.labels(model, now)
        y_pred, y_true = join_labels(window.request_ids[mine], window.predictions[mine], labels)
        out: dict[str, float | None] = {"labelled_rows": len(y_true)}
        if len(y_true) < MIN_LABELS:
            return out, {}
        if view.manifest.task == "regression":
            out.update(regression_metrics(y_pred, y_true))
            return out, {}
        out.update(classification_metrics(y_pred, y_true))
        return out, per_class_recall(y_pred, y_true)


def _drift_values(drift: DriftResult) -> dict[str, float | None]:
    pred = drift.prediction
    return {
        "drift_share": drift.drift_share,
        "drifted_features": drift.drifted_features,
        "dataset_drift": 1.0 if drift.dataset_drift else 0.0,
        "prediction_drift_score": pred.score if pred is not None else None,
        "prediction_drift": (1.0 if pred.drifted else 0.0)
        if pred is not None and pred.score is not None
        else None,
    }


def window_frame_columns(window: PredictionWindow) -> dict[str, np.ndarray]:
    """The window's columns plus ``_prediction``, as written for a drift report."""
    columns = dict(window.columns)
    columns["_prediction"] = window.predictions
    return columns
