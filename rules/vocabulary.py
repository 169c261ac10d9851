"""The measurement vocabulary: the names a check produces and a rule may read.

The same names appear in rules, in the HTTP API and, prefixed with ``modelhealth_``,
in the daemon's exported metrics. A value that could not be measured is ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MeasurementName:
    name: str
    unit: str
    help: str


VOCABULARY: tuple[MeasurementName, ...] = (
    # drift
    MeasurementName("rows", "rows", "Rows in the checked prediction-log window."),
    MeasurementName("drift_share", "ratio", "Share of features whose drift test says drifted (0-1)."),
    MeasurementName("drifted_features", "features", "Number of features whose drift test says drifted."),
    MeasurementName("dataset_drift", "bool", "1 when drift_share reaches the dataset drift share, else 0."),
    MeasurementName(
        "prediction_drift_score", "score", "Drift score of the prediction column (method-specific)."
    ),
    MeasurementName("prediction_drift", "bool", "1 when the prediction column drifted, else 0."),
    MeasurementName(
        "drift_impact",
        "ratio",
        "Largest permutation impact of a drifted feature on the window: accuracy drop with labels, "
        "else share of predictions that change (0 when no feature drifted).",
    ),
    # serving
    MeasurementName("latency_p50_seconds", "seconds", "Median request duration."),
    MeasurementName("latency_p95_seconds", "seconds", "95th percentile request duration."),
    MeasurementName("latency_p99_seconds", "seconds", "99th percentile request duration."),
    MeasurementName("request_rate", "requests/s", "Requests per second over the window."),
    MeasurementName("prediction_rate", "predictions/s", "Predictions per second over the window."),
    MeasurementName("error_ratio", "ratio", "Failed requests divided by all requests (0-1)."),
    # cost
    MeasurementName(
        "cpu_seconds_per_1k_predictions", "seconds", "Server CPU seconds spent per 1000 predictions."
    ),
    MeasurementName("cost_per_1k_predictions", "currency", "Estimated serving cost per 1000 predictions."),
    MeasurementName("memory_bytes", "bytes", "Resident memory of the model server."),
    # accuracy and fit
    MeasurementName("labelled_rows", "rows", "Predictions in the window with a label joined by request id."),
    MeasurementName("accuracy", "ratio", "Accuracy on labelled predictions of the serving version."),
    MeasurementName("f1", "ratio", "Macro F1 on labelled predictions of the serving version."),
    MeasurementName("mae", "units", "Mean absolute error on labelled predictions (regression)."),
    MeasurementName("rmse", "units", "Root mean squared error on labelled predictions (regression)."),
    MeasurementName(
        "estimated_accuracy", "ratio", "Accuracy estimated from calibrated confidence, no labels."
    ),
    MeasurementName(
        "train_holdout_gap", "ratio", "Train accuracy minus holdout accuracy of the serving version."
    ),
    # data quality
    MeasurementName("missing_ratio", "ratio", "Share of feature values that are missing, NaN or inf."),
    MeasurementName("out_of_range_ratio", "ratio", "Share of feature values outside the reference range."),
    MeasurementName("schema_errors", "errors", "Missing, extra or wrongly typed columns in the window."),
    MeasurementName("nan_values", "values", "Feature values in the window that were sent as NaN."),
    MeasurementName("inf_values", "values", "Feature values in the window that were sent as +/-inf."),
    MeasurementName(
        "unseen_category_ratio",
        "ratio",
        "Share of categorical feature values whose category the reference never held.",
    ),
    MeasurementName("bad_log_lines", "lines", "Prediction-log lines in the window that could not be parsed."),
    # model
    MeasurementName("model_size_bytes", "bytes", "Size of the serving version's ONNX file."),
)

NAMES: frozenset[str] = frozenset(m.name for m in VOCABULARY)
BY_NAME: dict[str, MeasurementName] = {m.name: m for m in VOCABULARY}


def is_known(name: str) -> bool:
    return name in NAMES
