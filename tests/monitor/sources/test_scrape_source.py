"""The scrape source against a real HTTP server exposing real prometheus_client metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from monitor.sources.scrape_source import ScrapeSource


def _server_metrics():
    registry = CollectorRegistry()
    hist = Histogram(
        "modelserver_request_duration_seconds",
        "d",
        ["model"],
        buckets=(0.01, 0.02, 0.05, 0.1),
        registry=registry,
    )
    reqs = Counter("modelserver_requests", "r", ["model"], registry=registry)
    preds = Counter("modelserver_predictions", "p", ["model"], registry=registry)
    errs = Counter("modelserver_errors", "e", ["model", "kind"], registry=registry)
    return registry, hist, reqs, preds, errs


def test_rates_quantiles_and_errors_from_deltas(loopback, model_config) -> None:
    registry, hist, reqs, preds, errs = _server_metrics()
    loopback.handler = lambda req: (200, generate_latest(registry), "text/plain")
    model = model_config(loopback.url, cost={"cpu_price_per_hour": 3.6})
    source = ScrapeSource()
    # traffic that happened before the first scrape must not count
    for _ in range(50):
        hist.labels("m").observe(0.09)
        reqs.labels("m").inc()
    first = source.read(model, now=1000.0)
    assert first.up and first.values["request_rate"] is None and first.values["latency_p50_seconds"] is None
    for _ in range(100):
        hist.labels("m").observe(0.015)
        reqs.labels("m").inc()
        preds.labels("m").inc(2)
    errs.labels("m", "bad_request").inc(5)
    hist.labels("other").observe(5.0)  # another model's series are ignored
    second = source.read(model, now=1010.0)
    v = second.values
    assert second.up
    assert v["request_rate"] == 10.0
    assert v["prediction_rate"] == 20.0
    assert v["error_ratio"] == 0.05
    assert 0.01 < v["latency_p50_seconds"] <= 0.02
    assert 0.01 < v["latency_p99_seconds"] <= 0.02


def test_unreachable_and_missing_series_are_unknown(loopback, model_config) -> None:
    model = model_config("http://127.0.0.1:1")
    down = ScrapeSource().read(model, now=1.0)
    assert not down.up and "failed" in down.reason and all(v is None for v in down.values.values())
    loopback.handler = lambda req: (200, b"# nothing here\n", "text/plain")
    empty = ScrapeSource().read(model_config(loopback.url), now=1.0)
    assert not empty.up and "modelserver_requests_total" in empty.reason
