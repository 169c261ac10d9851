"""Serving signals from PromQL over Prometheus's HTTP API.

Each measurement has a query template (``string.Template``) filled in per model:

- ``$requests``, ``$predictions``, ``$errors``, ``$histogram``: the server's metric names (a
  preset from :mod:`monitor.sources.metric_names`, overridable under ``server.metrics``);
- ``$match``: the matchers that select the model's series (the model label, or the process
  selector when the naming has no model label, plus ``server.metrics.selector``);
- ``$error_match``: ``$match`` plus ``server.metrics.error_selector``;
- ``$process``: the server process's series (``server.prometheus_selector``, or
  ``instance="host:port"`` from ``server.url``);
- ``$window``: the check window in seconds, e.g. ``600s``; ``$model``: the model name.

A model's ``server.queries`` replaces any template by name. An empty or NaN result is unknown,
never 0; an unreachable, failing or slow Prometheus makes every serving measurement unknown.
"""

from __future__ import annotations

import math
from string import Template
from urllib.parse import urlparse

import requests

from monitor.config import QUERY_NAMES, ModelConfig, PrometheusConfig
from monitor.sources.http_session import retrying_session
from monitor.sources.metric_names import join_matchers, resolve
from monitor.sources.serving_source import ServingSignals, cost_per_1k

_QUANTILE = "histogram_quantile({q}, sum by (le) (rate(${{histogram}}_bucket{{$match}}[$window])))"
TEMPLATES: dict[str, str] = {
    "request_rate": "sum(rate($requests{$match}[$window]))",
    "prediction_rate": "sum(rate($predictions{$match}[$window]))",
    # A server that counts failures by status code has no 5xx series until the first failure.
    "error_ratio": (
        "(sum(rate($errors{$error_match}[$window])) or vector(0)) / sum(rate($requests{$match}[$window]))"
    ),
    "latency_p50_seconds": _QUANTILE.format(q=0.5),
    "latency_p95_seconds": _QUANTILE.format(q=0.95),
    "latency_p99_seconds": _QUANTILE.format(q=0.99),
    "cpu_seconds_per_prediction": (
        "sum(rate(process_cpu_seconds_total{$process}[$window])) / sum(rate($predictions{$match}[$window]))"
    ),
    "memory_bytes": "max(max_over_time(process_resident_memory_bytes{$process}[$window]))",
}
assert tuple(TEMPLATES) == QUERY_NAMES


class PrometheusError(Exception):
    """Prometheus could not answer a query."""


def process_selector(model: ModelConfig) -> str:
    if model.server.prometheus_selector:
        return model.server.prometheus_selector
    parsed = urlparse(model.server.url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f'instance="{parsed.hostname}:{port}"'


def render_queries(model: ModelConfig) -> dict[str, str]:
    """Every serving query of ``model``, templates filled in and overrides applied."""
    names = resolve(model.server.metrics)
    process = process_selector(model)
    owner = f'{names.model_label}="{model.name}"' if names.model_label else process
    match = join_matchers(owner, names.selector)
    mapping = {
        "requests": names.requests_counter,
        "predictions": names.predictions_counter,
        "errors": names.errors_counter,
        "histogram": names.duration_histogram,
        "match": match,
        "error_match": join_matchers(match, names.error_selector),
        "process": process,
        "window": f"{int(model.check.window)}s",
        "model": model.name,
    }
    templates = TEMPLATES | dict(model.server.queries)
    return {name: Template(text).safe_substitute(mapping) for name, text in templates.items()}


class PrometheusSource:
    """Asks Prometheus for each model's serving signals at the check time."""

    name = "prometheus"

    def __init__(self, config: PrometheusConfig, session: requests.Session | None = None):
        self.config = config
        self.session = session or retrying_session()

    def query(self, promql: str, at: float) -> float | None:
        """One instant query; ``None`` for an empty or non-finite result, PrometheusError on failure."""
        url = self.config.url.rstrip("/") + "/api/v1/query"
        params: dict[str, str | float] = {"query": promql, "time": at}
        try:
            response = self.session.get(url, params=params, timeout=self.config.timeout)
        except requests.Timeout:
            raise PrometheusError(f"{url} did not answer within {self.config.timeout:g}s") from None
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
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else body
            raise PrometheusError(f"query {promql!r} failed ({response.status_code}): {error}")
        try:
            data = body["data"]
            result = data["result"]
            if data.get("resultType") == "scalar":
                value = float(result[1])
            elif not result:
                return None
            else:
                value = float(result[0]["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            raise PrometheusError(f"{url} answered query {promql!r} with an unexpected shape") from None
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
