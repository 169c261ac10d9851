"""Serving signals from PromQL over Prometheus's HTTP API.

Each measurement has a query template (``string.Template``) filled with the server's metric
names, the model selector, the process selector and the check window. A model's
``server.queries`` overrides any template. Empty or NaN results are unknown, never 0.
"""

from __future__ import annotations

import math
from string import Template
from urllib.parse import urlparse

import requests

from monitor.config import ModelConfig, PrometheusConfig
from monitor.sources.base import ServingSignals, cost_per_1k
from monitor.sources.metric_names import resolve

TEMPLATES: dict[str, str] = {
    "request_rate": "sum(rate($requests{$match}[$window]))",
    "prediction_rate": "sum(rate($predictions{$match}[$window]))",
    "error_ratio": "sum(rate($errors{$match}[$window])) / sum(rate($requests{$match}[$window]))",
    "latency_p50_seconds": "histogram_quantile(0.5, sum by (le) (rate(${histogram}_bucket{$match}[$window])))",
    "latency_p95_seconds": "histogram_quantile(0.95, sum by (le) (rate(${histogram}_bucket{$match}[$window])))",
    "latency_p99_seconds": "histogram_quantile(0.99, sum by (le) (rate(${histogram}_bucket{$match}[$window])))",
    "cpu_seconds_per_prediction": (
        "sum(rate(process_cpu_seconds_total{$process}[$window])) / sum(rate($predictions{$match}[$window]))"
    ),
    "memory_bytes": "max(max_over_time(process_resident_memory_bytes{$process}[$window]))",
}


class PrometheusError(Exception):
    """Prometheus could not answer a query."""


def process_selector(model: ModelConfig) -> str:
    if model.server.prometheus_selector:
        return model.server.prometheus_selector
    parsed = urlparse(model.server.url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f'instance="{parsed.hostname}:{port}"'


def render_queries(model: ModelConfig) -> dict[str, str]:
    names = resolve(model.server.metrics)
    match = f'{names.model_label}="{model.name}"' if names.model_label else ""
    mapping = {
        "requests": names.requests_counter,
        "predictions": names.predictions_counter,
        "errors": names.errors_counter,
        "histogram": names.duration_histogram,
        "match": match,
        "process": process_selector(model),
        "window": f"{int(model.check.window)}s",
        "model": model.name,
    }
    templates = TEMPLATES | dict(model.server.queries)
    return {name: Template(text).safe_substitute(mapping) for name, text in templates.items()}


class PrometheusSource:
    name = "prometheus"

    def __init__(self, config: PrometheusConfig, session: requests.Session | None = None):
        self.config = config
        self.session = session or requests.Session()

    def query(self, promql: str, at: float) -> float | None:
        url = self.config.url.rstrip("/") + "/api/v1/query"
        try:
            response = self.session.get(
                url, params={"query": promql, "time": at}, timeout=self.config.timeout
            )
        except requests.RequestException as exc:
            raise PrometheusError(f"{url} unreachable: {exc}") from None
        if response.status_code >= 500:
            raise PrometheusError(f"{url} answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise PrometheusError(
                f"{url} answered {response.status_code} with a body that is not JSON"
            ) from None
        if body.get("status") != "success":
            raise PrometheusError(f"query {promql!r} failed: {body.get('errorType')}: {body.get('error')}")
        result = body["data"]["result"]
        if body["data"].get("resultType") == "scalar":
            value = float(result[1])
        elif not result:
            return None
        else:
            value = float(result[0]["value"][1])
        return value if math.isfinite(value) else None

    def read(self, model: ModelConfig, now: float) -> ServingSignals:
        queries = render_queries(model)
        values: dict[str, float | None] = {}
        try:
            for name, promql in queries.items():
                values[name] = self.query(promql, now)
        except PrometheusError as exc:
            return ServingSignals.unknown(self.name, str(exc))
        cpu_per_pred = values.pop("cpu_seconds_per_prediction", None)
        rate = values.get("prediction_rate")
        values["cpu_seconds_per_1k_predictions"] = cpu_per_pred * 1000 if cpu_per_pred is not None else None
        values["cost_per_1k_predictions"] = cost_per_1k(
            cpu_per_pred,
            values.get("memory_bytes"),
            1.0 / rate if rate else None,
            model.cost.cpu_price_per_hour,
            model.cost.memory_price_per_gb_hour,
        )
        if values.get("request_rate") is None:
            return ServingSignals(
                source=self.name,
                up=False,
                values=values,
                reason=f"Prometheus has no data for {queries['request_rate']}",
            )
        return ServingSignals(source=self.name, up=True, values=values)
