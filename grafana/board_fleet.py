"""The fleet overview: every model's health at a glance, the rules firing and the jobs running."""

from __future__ import annotations

from typing import Any

from panels import alarm, dashboard, layout, row, stat, state_timeline, table, timeseries


def build() -> dict[str, Any]:
    health = table(
        "Health per model",
        [
            ("modelhealth_production_version", "version"),
            ("modelhealth_drift_share", "drift share"),
            ("modelhealth_accuracy", "accuracy"),
            ("modelhealth_estimated_accuracy", "estimated accuracy"),
            ("modelhealth_latency_p95_seconds", "p95 latency (s)"),
            ("modelhealth_error_ratio", "error ratio"),
            ("modelhealth_cost_per_1k_predictions", "cost per 1k"),
            ("time() - modelhealth_last_check_success_timestamp_seconds", "seconds since check"),
        ],
        "The latest check of every model, one row each.",
    )
    items = [
        (
            stat(
                "Models",
                "count(modelhealth_production_version)",
                description="Models with a production version.",
            ),
            4,
            4,
        ),
        (stat("Rules firing", "sum(modelhealth_rule_firing)", thresholds=alarm(1)), 4, 4),
        (stat("Jobs queued or running", "sum(modelhealth_jobs_running)"), 4, 4),
        (stat("Circuit breakers open", "sum(modelhealth_circuit_breaker_open)", thresholds=alarm(1)), 4, 4),
        (stat("Sources down", "count(modelhealth_source_up == 0) or vector(0)", thresholds=alarm(1)), 4, 4),
        (
            stat(
                "Daemon up",
                'sum(up{job="modelhealthd"})',
                thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}],
            ),
            4,
            4,
        ),
        (health, 24, 8),
        (row("Over time"), 24, 1),
        (timeseries("Drift share", [("modelhealth_drift_share", "{{model}}")], "percentunit"), 12, 8),
        (timeseries("Accuracy (labelled)", [("modelhealth_accuracy", "{{model}}")], "percentunit"), 12, 8),
        (timeseries("p95 latency", [("modelhealth_latency_p95_seconds", "{{model}}")], "s"), 12, 8),
        (timeseries("Error ratio", [("modelhealth_error_ratio", "{{model}}")], "percentunit"), 12, 8),
        (state_timeline("Rules firing", "modelhealth_rule_firing", "{{model}} {{rule}}"), 12, 8),
        (
            timeseries("Jobs queued or running", [("modelhealth_jobs_running", "{{model}}")], stepped=True),
            12,
            8,
        ),
        (
            timeseries(
                "Alerts received on the hooks",
                [
                    (
                        "sum by (kind, outcome) (increase(modelhealth_alerts_received_total[$__rate_interval]))",
                        "{{kind}} {{outcome}}",
                    )
                ],
                description="Webhook deliveries from Alertmanager and Grafana, by outcome.",
            ),
            24,
            7,
        ),
    ]
    return dashboard(
        "modelhealthd-fleet",
        "modelhealthd / Fleet overview",
        "Every model's health at a glance, the rules firing and the jobs running.",
        layout(items),
    )
