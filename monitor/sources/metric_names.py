"""Metric-name presets for model servers: the reference server's and a generic HTTP naming."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.config import MetricNamesConfig


@dataclass(frozen=True)
class MetricNames:
    duration_histogram: str
    requests_counter: str
    predictions_counter: str
    errors_counter: str
    model_label: str


PRESETS: dict[str, MetricNames] = {
    "reference": MetricNames(
        duration_histogram="modelserver_request_duration_seconds",
        requests_counter="modelserver_requests_total",
        predictions_counter="modelserver_predictions_total",
        errors_counter="modelserver_errors_total",
        model_label="model",
    ),
    "generic": MetricNames(
        duration_histogram="http_request_duration_seconds",
        requests_counter="http_requests_total",
        predictions_counter="http_requests_total",
        errors_counter="http_request_errors_total",
        model_label="model",
    ),
}


def resolve(config: MetricNamesConfig) -> MetricNames:
    base = PRESETS[config.preset]
    return MetricNames(
        duration_histogram=config.duration_histogram or base.duration_histogram,
        requests_counter=config.requests_counter or base.requests_counter,
        predictions_counter=config.predictions_counter or base.predictions_counter,
        errors_counter=config.errors_counter or base.errors_counter,
        model_label=config.model_label if config.model_label is not None else base.model_label,
    )
