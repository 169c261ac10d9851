"""Jobs: outcomes, durations, gate verdicts, promotions and circuit breakers."""

from __future__ import annotations

from typing import Any

from panels import dashboard, layout, state_timeline, table, timeseries


def build() -> dict[str, Any]:
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
