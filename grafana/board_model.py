"""Model detail (``$model``): drift, serving, cost, accuracy, data quality, versions; promotions marked."""

from __future__ import annotations

from typing import Any

from panels import (
    alarm,
    dashboard,
    layout,
    model_variable,
    promotion_annotation,
    row,
    stat,
    state_timeline,
    timeseries,
)

M = '{model="$model"}'


def build() -> dict[str, Any]:
    items = [
        (stat("Production version", f"modelhealth_production_version{M}"), 4, 4),
        (stat("Rows in window", f"modelhealth_rows{M}"), 4, 4),
        (stat("Drift share", f"modelhealth_drift_share{M}", "percentunit", thresholds=alarm(0.3)), 4, 4),
        (stat("Model size", f"modelhealth_model_size_bytes{M}", "bytes"), 4, 4),
        (
            stat("Since last check", f"time() - modelhealth_last_check_success_timestamp_seconds{M}", "s"),
            4,
            4,
        ),
        (stat("Circuit breaker", f"modelhealth_circuit_breaker_open{M}", thresholds=alarm(1)), 4, 4),
        (row("Drift"), 24, 1),
        (
            timeseries(
                "Drift per feature",
                [(f"modelhealth_feature_drift_score{M}", "{{feature}}")],
                description="The top features by drift score (method-specific).",
            ),
            12,
            9,
        ),
        (
            timeseries(
                "Dataset and prediction drift",
                [
                    (f"modelhealth_drift_share{M}", "drift share"),
                    (f"modelhealth_prediction_drift_score{M}", "prediction drift score"),
                ],
            ),
            12,
            9,
        ),
        (row("Serving"), 24, 1),
        (
            timeseries(
                "Latency quantiles",
                [
                    (f"modelhealth_latency_p50_seconds{M}", "p50"),
                    (f"modelhealth_latency_p95_seconds{M}", "p95"),
                    (f"modelhealth_latency_p99_seconds{M}", "p99"),
                ],
                "s",
            ),
            8,
            8,
        ),
        (
            timeseries("Error ratio", [(f"modelhealth_error_ratio{M}", "errors / requests")], "percentunit"),
            8,
            8,
        ),
        (
            timeseries(
                "Traffic",
                [
                    (f"modelhealth_request_rate{M}", "requests/s"),
                    (f"modelhealth_prediction_rate{M}", "predictions/s"),
                ],
                "reqps",
            ),
            8,
            8,
        ),
        (
            timeseries(
                "Cost per 1k predictions",
                [
                    (f"modelhealth_cost_per_1k_predictions{M}", "cost"),
                    (f"modelhealth_cpu_seconds_per_1k_predictions{M}", "CPU seconds"),
                ],
            ),
            12,
            8,
        ),
        (timeseries("Server memory", [(f"modelhealth_memory_bytes{M}", "resident")], "bytes"), 12, 8),
        (row("Quality"), 24, 1),
        (
            timeseries(
                "Accuracy: real and estimated",
                [
                    (f"modelhealth_accuracy{M}", "accuracy (labels)"),
                    (f"modelhealth_estimated_accuracy{M}", "estimated (no labels)"),
                ],
                "percentunit",
            ),
            12,
            8,
        ),
        (
            timeseries(
                "Data quality",
                [
                    (f"modelhealth_missing_ratio{M}", "missing"),
                    (f"modelhealth_out_of_range_ratio{M}", "out of range"),
                    (f"modelhealth_schema_errors{M}", "schema errors"),
                ],
            ),
            12,
            8,
        ),
        (row("Versions and rules"), 24, 1),
        (
            timeseries(
                "Production version",
                [(f"modelhealth_production_version{M}", "version")],
                stepped=True,
                decimals=0,
            ),
            12,
            7,
        ),
        (state_timeline("Rules", f"modelhealth_rule_firing{M}", "{{rule}}"), 12, 7),
    ]
    return dashboard(
        "modelhealthd-model",
        "modelhealthd / Model detail",
        "One model: drift per feature, serving, cost, accuracy, data quality and versions. "
        "Promotions and rollbacks are marked on every graph.",
        layout(items),
        variables=[model_variable()],
        annotations=[promotion_annotation("promote", "green"), promotion_annotation("rollback", "red")],
    )
