"""Build modelhealthd's Grafana dashboards as JSON: ``python grafana/build.py [--check]``.

The dashboards are code so that every query is written once and reviewed here; the JSON in
``grafana/dashboards/`` is what Grafana provisions. ``--check`` exits 1 when the committed JSON
is not what this file builds (a test runs it). Every query reads the daemon's own metrics
(``modelhealth_*``), so the dashboards work for any model server the daemon watches.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
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
    table,
    timeseries,
)

OUT = Path(__file__).resolve().parent / "dashboards"
M = '{model="$model"}'


def fleet() -> dict[str, Any]:
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


def model() -> dict[str, Any]:
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


def jobs() -> dict[str, Any]:
    items = [
        (
            timeseries(
                "Finished jobs by outcome",
                [
                    (
                        "sum by (kind, outcome) (increase(modelhealth_jobs_total[$__rate_interval]))",
                        "{{kind}} {{outcome}}",
                    )
                ],
            ),
            12,
            8,
        ),
        (
            timeseries(
                "Gate verdicts",
                [
                    (
                        "sum by (model, outcome) (increase(modelhealth_gate_verdicts_total[$__rate_interval]))",
                        "{{model}} {{outcome}}",
                    )
                ],
            ),
            12,
            8,
        ),
        (
            timeseries(
                "Job duration",
                [
                    (
                        "histogram_quantile(0.5, sum by (le, kind) (rate(modelhealth_job_duration_seconds_bucket[$__rate_interval])))",
                        "p50 {{kind}}",
                    ),
                    (
                        "histogram_quantile(0.95, sum by (le, kind) (rate(modelhealth_job_duration_seconds_bucket[$__rate_interval])))",
                        "p95 {{kind}}",
                    ),
                    (
                        "sum by (kind) (increase(modelhealth_job_duration_seconds_sum[$__range])) / sum by (kind) (increase(modelhealth_job_duration_seconds_count[$__range]))",
                        "mean {{kind}} over the range",
                    ),
                ],
                "s",
            ),
            12,
            8,
        ),
        (
            timeseries("Jobs queued or running", [("modelhealth_jobs_running", "{{model}}")], stepped=True),
            12,
            8,
        ),
        (
            table(
                "Over the dashboard's range, per model",
                [
                    (
                        'sum by (model) (increase(modelhealth_jobs_total{outcome="succeeded"}[$__range]))',
                        "succeeded",
                    ),
                    (
                        'sum by (model) (increase(modelhealth_jobs_total{outcome=~"failed|timed_out"}[$__range]))',
                        "failed",
                    ),
                    (
                        'sum by (model) (increase(modelhealth_gate_verdicts_total{outcome="passed"}[$__range]))',
                        "gate passed",
                    ),
                    (
                        'sum by (model) (increase(modelhealth_gate_verdicts_total{outcome="rejected"}[$__range]))',
                        "gate rejected",
                    ),
                    (
                        'sum by (model) (increase(modelhealth_promotions_total{kind="promote"}[$__range]))',
                        "promotions",
                    ),
                    (
                        'sum by (model) (increase(modelhealth_promotions_total{kind="rollback"}[$__range]))',
                        "rollbacks",
                    ),
                ],
            ),
            24,
            8,
        ),
        (state_timeline("Circuit breakers", "modelhealth_circuit_breaker_open", "{{model}}"), 12, 7),
        (
            timeseries(
                "Decisions written",
                [("sum by (kind) (increase(modelhealth_decisions_total[$__rate_interval]))", "{{kind}}")],
                description="Entries of the decision log: `modelhealthd decisions` shows them.",
            ),
            12,
            7,
        ),
    ]
    return dashboard(
        "modelhealthd-jobs",
        "modelhealthd / Jobs",
        "Re-optimization jobs: outcomes, durations, gate verdicts, promotions and circuit breakers.",
        layout(items),
    )


DASHBOARDS = {"fleet.json": fleet, "model.json": model, "jobs.json": jobs}


def render(build) -> str:  # noqa: ANN001
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Exit 1 if the committed JSON is out of date.")
    args = parser.parse_args(argv)
    stale = []
    for name, build in DASHBOARDS.items():
        path, text = OUT / name, render(build)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
            continue
        OUT.mkdir(exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python grafana/build.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
