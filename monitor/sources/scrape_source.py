"""Serving signals by scraping a server's ``/metrics`` and differencing samples over the window.

Used when no Prometheus is configured. Counter resets are handled like PromQL's ``increase``.
The first scrape after start only records a sample, so its rates and quantiles are unknown.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import requests
from prometheus_client.parser import text_string_to_metric_families

from monitor.config import ModelConfig
from monitor.sources.histogram import histogram_quantile, increase
from monitor.sources.http_session import retrying_session
from monitor.sources.metric_names import LabelMatchers, MetricNames, join_matchers, resolve
from monitor.sources.serving_source import ServingSignals, cost_per_1k


@dataclass(frozen=True)
class Sample:
    at: float
    requests: float | None
    predictions: float | None
    errors: float | None
    buckets: tuple[tuple[float, float], ...]
    cpu_seconds: float | None
    memory_bytes: float | None


def parse_sample(text: str, names: MetricNames, model: str, at: float) -> Sample:
    """Pick the series that belong to ``model`` out of one exposition.

    A series belongs to the model when its model label (if the naming has one) names it and it
    meets ``selector``; errors must also meet ``error_selector``.
    """
    label = f'{names.model_label}="{_escape(model)}"' if names.model_label else ""
    match = LabelMatchers.parse(join_matchers(label, names.selector))
    error_match = LabelMatchers.parse(join_matchers(label, names.selector, names.error_selector))
    counters = {"requests": names.requests_counter, "predictions": names.predictions_counter}
    sums: dict[str, float] = {}
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels = sample.name, sample.labels
            if name == f"{names.duration_histogram}_bucket" and match.matches(labels):
                bound = float(labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
                continue
            for key, counter in counters.items():
                if name == counter and match.matches(labels):
                    sums[key] = sums.get(key, 0.0) + sample.value
            if name == names.errors_counter and error_match.matches(labels):
                sums["errors"] = sums.get("errors", 0.0) + sample.value
            if name in ("process_cpu_seconds_total", "process_resident_memory_bytes"):
                sums[name] = sample.value
    return Sample(
        at=at,
        requests=sums.get("requests"),
        predictions=sums.get("predictions"),
        errors=sums.get("errors", 0.0 if "requests" in sums else None),
        buckets=tuple(sorted(buckets.items())),
        cpu_seconds=sums.get("process_cpu_seconds_total"),
        memory_bytes=sums.get("process_resident_memory_bytes"),
    )


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _increase(samples: list[Sample], attr: str) -> float | None:
    """Counter increase; a series absent from earlier scrapes had not been created yet, so it was 0."""
    values = [getattr(s, attr) for s in samples]
    if values[-1] is None:
        return None
    return increase([0.0 if v is None else v for v in values])


def _bucket_increase(samples: list[Sample]) -> list[tuple[float, float]]:
    bounds = {b for b, _ in samples[-1].buckets}
    out = []
    for bound in bounds:
        series = [dict(s.buckets).get(bound) for s in samples]
        out.append((bound, increase([v for v in series if v is not None])))
    return out


def signals_from_samples(samples: list[Sample], model: ModelConfig) -> dict[str, float | None]:
    first, last = samples[0], samples[-1]
    elapsed = last.at - first.at
    reqs = _increase(samples, "requests")
    preds = _increase(samples, "predictions")
    errs = _increase(samples, "errors")
    cpu = _increase(samples, "cpu_seconds")
    buckets = _bucket_increase(samples)
    values: dict[str, float | None] = {
        "request_rate": reqs / elapsed if reqs is not None and elapsed > 0 else None,
        "prediction_rate": preds / elapsed if preds is not None and elapsed > 0 else None,
        "error_ratio": errs / reqs if errs is not None and reqs else None,
        "memory_bytes": last.memory_bytes,
    }
    for q, name in (
        (0.5, "latency_p50_seconds"),
        (0.95, "latency_p95_seconds"),
        (0.99, "latency_p99_seconds"),
    ):
        values[name] = histogram_quantile(q, buckets) if buckets else None
    cpu_per_pred = cpu / preds if cpu is not None and preds else None
    values["cpu_seconds_per_1k_predictions"] = cpu_per_pred * 1000 if cpu_per_pred is not None else None
    values["cost_per_1k_predictions"] = cost_per_1k(
        cpu_per_pred,
        last.memory_bytes,
        elapsed / preds if preds else None,
        model.cost.cpu_price_per_hour,
        model.cost.memory_price_per_gb_hour,
    )
    return {k: (None if v is not None and not math.isfinite(v) else v) for k, v in values.items()}


class ScrapeSource:
    """Scrapes each model server directly and keeps a window of samples per model."""

    name = "scrape"

    def __init__(self, session: requests.Session | None = None, max_samples: int = 512):
        self.session = session or retrying_session()
        self.max_samples = max_samples
        self.history: dict[str, deque[Sample]] = {}

    def read(self, model: ModelConfig, now: float) -> ServingSignals:
        names = resolve(model.server.metrics)
        try:
            response = self.session.get(model.server.metrics_url, timeout=model.server.timeout)
            response.raise_for_status()
            sample = parse_sample(response.text, names, model.name, now)
        except (requests.RequestException, ValueError) as exc:
            return ServingSignals.unknown(self.name, f"scrape of {model.server.metrics_url} failed: {exc}")
        history = self.history.setdefault(model.name, deque(maxlen=self.max_samples))
        history.append(sample)
        while len(history) > 2 and history[0].at < now - model.check.window:
            history.popleft()
        if sample.requests is None:
            return ServingSignals.unknown(
                self.name,
                f"{model.server.metrics_url} has no {names.requests_counter} series for model {model.name!r}",
            )
        if len(history) < 2:
            return ServingSignals(
                source=self.name,
                up=True,
                values={**ServingSignals.unknown(self.name, "").values, "memory_bytes": sample.memory_bytes},
                reason="first sample; rates need two scrapes",
            )
        return ServingSignals(source=self.name, up=True, values=signals_from_samples(list(history), model))
