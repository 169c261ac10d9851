"""One check of one model: serving signals, drift and its impact, data quality and performance.

The result is a :class:`Measurements` record (vocabulary names, ``None`` when unknown) plus the
details the API shows beside it: per-feature drift and impact, per-class recall, estimated
against real accuracy, and the data-quality findings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from monitor.check.cbpe import estimate_accuracy
from monitor.check.impact import ImpactResult, permutation_impact
from monitor.check.model_view import ModelView, load_view
from monitor.check.performance import classification_metrics, per_class_recall, regression_metrics
from monitor.check.profiles import ProfileStore
from monitor.check.quality import window_quality
from monitor.check.reference_profile import ReferenceProfile
from monitor.config import ModelConfig
from monitor.drift.detect import DriftResult, FeatureDrift, detect_drift
from monitor.drift.severity import drift_severity
from monitor.measurements import FeatureScore, Measurements
from monitor.memory import limit_arenas
from monitor.sources.prediction_log_reader import PredictionWindow
from monitor.sources.serving_source import ServingSignals, ServingSource
from reoptimize.registry.integrity import VerifiedVersions
from reoptimize.registry.registry import Registry
from reoptimize.tasks.task import task_named

LabelLookup = Callable[[ModelConfig, float], Mapping[str, Any]]
MIN_LABELS = 20
log = logging.getLogger("modelhealthd.check")


@dataclass(frozen=True)
class CheckOutcome:
    measurements: Measurements
    window: PredictionWindow | None
    drift: DriftResult | None
    serving: ServingSignals
    details: Mapping[str, Any]
    impact: ImpactResult | None = None


class Checker:
    """Runs checks; holds one :class:`ModelView` per model, rebuilt when production changes.

    ``profile_cache`` is the directory where reference profiles are kept between runs; with it,
    missing profiles (of ``models()``, the configured models) are built in a worker process.
    """

    def __init__(
        self,
        registry: Registry,
        serving: ServingSource,
        labels: LabelLookup,
        profile_cache: Path | None = None,
        models: Callable[[], Sequence[ModelConfig]] = lambda: (),
    ):
        self.registry = registry
        self.serving = serving
        self.labels = labels
        self.profiles = ProfileStore(registry, profile_cache, models)
        self.views: dict[str, ModelView] = {}
        self.verified = VerifiedVersions(registry)
        limit_arenas()  # the check threads share one heap; freed pages go back after each check

    def view(self, model: ModelConfig) -> ModelView | None:
        version = self.registry.production(model.name)
        if version is None:
            return None
        # Every file is checked against the manifest (again whenever one changes on disk), so a
        # tampered, missing or planted file fails the check before anything reads it.
        self.verified.check(model.name, version)
        current = self.views.get(model.name)
        if current is None or current.version != version:
            current = load_view(self.registry, model, version, current, self.profiles)
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
        profile = view.profile
        quality = window_quality(window, profile.stats, view.features)
        values.update(quality.values)
        values["rows"] = window.rows
        values["model_size_bytes"] = view.model_size_bytes
        gap = view.manifest.metrics.get("train_holdout_gap")
        values["train_holdout_gap"] = (
            gap if isinstance(gap, int | float) and not isinstance(gap, bool) else None
        )
        labels = self.labels(model, now) if window.rows else {}
        row_labels = [labels.get(rid) for rid in window.request_ids.tolist()] if labels else None
        drift = impact = None
        if window.rows >= model.check.min_rows:
            drift = detect_drift(
                profile.stats,
                window_frame_columns(window),
                drift_share=model.check.drift_share,
                effect_size_floor=model.check.effect_size_floor,
                fdr=model.check.fdr,
            )
            values.update(_drift_values(drift))
            impact, note = self._impact(model, view, profile, window, drift, row_labels)
            values["drift_impact"] = impact.largest if impact is not None else (0.0 if not note else None)
            if note and drift.drifted_features:
                notes.append(note)
        else:
            notes.append(
                f"{window.rows} rows in the window, fewer than min_rows={model.check.min_rows}: drift unknown"
            )
        perf, perf_details = _performance(view, profile, window, row_labels)
        values.update(perf)
        impacts = {f.feature: f.impact for f in impact.features} if impact is not None else {}
        features = tuple(_feature_score(f, impacts.get(f.column)) for f in (drift.features if drift else ()))
        details = {
            "serving_up": serving.up,
            "serving_source": serving.source,
            "per_class_recall": perf_details.pop("per_class_recall", {}),
            "performance": perf_details,
            "quality": dict(quality.details),
            "drift_impact": impact.to_json() if impact is not None else None,
        }
        m = Measurements(
            model=model.name,
            version=view.version,
            at=now,
            values=values,
            features=features,
            notes=tuple(notes),
            extra={
                "per_class_recall": details["per_class_recall"],
                "max_feature_series": model.check.max_feature_series,
            },
        )
        return CheckOutcome(m, window, drift, serving, details, impact)

    def _impact(
        self,
        model: ModelConfig,
        view: ModelView,
        profile: ReferenceProfile,
        window: PredictionWindow,
        drift: DriftResult,
        row_labels: Sequence[Any] | None,
    ) -> tuple[ImpactResult | None, str | None]:
        """Permutation impact of the most drifted features; (None, why) when it cannot be measured."""
        settings = model.check.impact
        ranked = sorted(
            (f for f in drift.features if f.drifted and f.error is None),
            key=lambda f: -(drift_severity(f.method, f.score, f.threshold) or 0.0),
        )
        if not ranked:
            return None, None
        if not settings.enabled:
            return None, "drift impact is disabled (check.impact.enabled: false)"
        columns = [window.columns[f] for f in view.features]
        if any(c.dtype == object for c in columns):
            return None, "drift impact needs numeric features; this model has categorical ones"
        try:
            runner = view.runner()
            impact = permutation_impact(
                runner,
                np.column_stack(columns) if columns else np.empty((window.rows, 0)),
                view.features,
                [f.column for f in ranked[: settings.max_features]],
                row_labels,
                prediction_std=profile.prediction_std,
                max_rows=settings.max_rows,
                seed=settings.seed,
            )
        except Exception as exc:  # a model that fails here must not fail the whole check
            log.warning("drift impact of %s failed: %s", model.name, exc, extra={"model": model.name})
            return None, f"drift impact could not be measured: {type(exc).__name__}: {exc}"
        if impact is None:
            return None, "drift impact: no window row has every feature finite"
        return impact, None


def _feature_score(f: FeatureDrift, impact: float | None) -> FeatureScore:
    return FeatureScore(
        f.column,
        f.method or "",
        f.score,
        f.threshold,
        f.drifted,
        f.error,
        severity=drift_severity(f.method, f.score, f.threshold),
        impact=impact,
    )


def _performance(
    view: ModelView, profile: ReferenceProfile, window: PredictionWindow, row_labels: Sequence[Any] | None
) -> tuple[dict[str, float | None], dict[str, Any]]:
    """Accuracy and F1 (or MAE and RMSE) from joined labels, and accuracy estimated without them."""
    mine = window.versions == view.version if window.rows else np.zeros(0, dtype=bool)
    classifier = task_named(view.manifest.task).has_classes
    out: dict[str, float | None] = {"labelled_rows": 0}
    details: dict[str, Any] = {}
    if classifier and mine.any():
        out["estimated_accuracy"] = estimate_accuracy(profile.calibration, window.confidence[mine])
        details["estimated_accuracy"] = out["estimated_accuracy"]
    if row_labels is None or not mine.any():
        return out, details
    labelled = mine & np.array([label is not None for label in row_labels], dtype=bool)
    out["labelled_rows"] = int(labelled.sum())
    if labelled.sum() < MIN_LABELS:
        return out, details
    y_pred = window.predictions[labelled].tolist()
    y_true = [row_labels[i] for i in np.flatnonzero(labelled).tolist()]
    if not classifier:
        out.update(regression_metrics(y_pred, y_true))
        return out, details
    out.update(classification_metrics(y_pred, y_true))
    details["accuracy"] = out["accuracy"]
    details["labelled_rows"] = out["labelled_rows"]
    # On the same labelled rows, so estimate and truth can be compared directly.
    details["estimated_accuracy_on_labelled"] = estimate_accuracy(
        profile.calibration, window.confidence[labelled]
    )
    details["per_class_recall"] = per_class_recall(y_pred, y_true)
    return out, details


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
