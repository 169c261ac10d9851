"""The Prometheus source against a real Prometheus that scrapes a real server of another naming.

The server (tests/support/generic_server.py) is FastAPI instrumented by
prometheus-fastapi-instrumentator, in its own process, so its CPU and memory are its own. Each
request says how long to sleep, how much CPU to burn and whether to fail, so the test knows the
truth: requests, failures, CPU used (from /proc) and the server's own histogram buckets.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from monitor.config import ModelConfig, PrometheusConfig, load_config
from monitor.sources.histogram import histogram_quantile
from monitor.sources.prometheus_source import PrometheusSource, render_queries
from monitor.sources.serving_source import cost_per_1k
from tests.support.prometheus import PrometheusProcess, free_port, require_prometheus

pytestmark = pytest.mark.prometheus
REPO = Path(__file__).resolve().parents[3]
WINDOW = 60


def _proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_rss_bytes(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def generic_server():
    require_prometheus()
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.generic_server", "--port", str(port)], cwd=REPO, env=env
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/metrics", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("the generic server did not start")
    yield proc, url, port
    proc.terminate()
    proc.wait(10)


def _buckets(text: str) -> list[tuple[float, float]]:
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "http_request_duration_seconds_bucket" and s.labels.get("handler") == "/predict":
                out[float(s.labels["le"])] = out.get(float(s.labels["le"]), 0.0) + s.value
    return sorted(out.items())


def _last_scrape(prom: PrometheusProcess, job: str) -> float:
    return float(prom.query(f'timestamp(up{{job="{job}"}})')[0]["value"][1])


def test_generic_server_measurements_equal_the_truth(tmp_path, generic_server) -> None:
    proc, url, port = generic_server
    # Each kind lands in one bucket with room to spare on a busy machine: fast in (25 ms, 50 ms],
    # slow in (100 ms, 250 ms].
    fast = {"x": [1.0, -2.0], "sleep": 0.022, "burn": 0.008}
    slow = dict(fast, sleep=0.112)
    fail = dict(fast, fail=True)
    plan = [fail if i % 8 == 3 else slow if i % 5 == 0 else fast for i in range(160)]
    with PrometheusProcess(tmp_path, {"generic": [f"127.0.0.1:{port}"]}) as prom:
        prom.wait_for_samples('up{job="generic"} == 1')
        cpu_start = _proc_cpu_seconds(proc.pid)
        session, rss, began = requests.Session(), [], time.monotonic()
        for i, body in enumerate(plan):
            # Paced traffic: a series born in the window is then extrapolated back to about zero.
            time.sleep(max(0.0, began + i * 0.07 - time.monotonic()))
            status = session.post(url + "/predict", json=body, timeout=10).status_code
            assert status == (500 if body.get("fail") else 200)
            if i % 20 == 0:
                rss.append(_proc_rss_bytes(proc.pid))
        prom.wait_for_scrape_after("generic", time.time())
        cpu_end = _proc_cpu_seconds(proc.pid)
        rss.append(_proc_rss_bytes(proc.pid))
        at = _last_scrape(prom, "generic")  # the check time: the last sample ends the window
        own = requests.get(url + "/metrics", timeout=5).text
        model = ModelConfig.model_validate(
            {
                "name": "churn",
                "server": {"url": url, "metrics": {"preset": "generic"}},
                "data": {"predictions": str(tmp_path / "none")},
                "check": {"window": f"{WINDOW}s"},
                "cost": {"cpu_price_per_hour": 0.9, "memory_price_per_gb_hour": 0.02},
            }
        )
        signals = PrometheusSource(PrometheusConfig(url=prom.url)).read(model, now=at)
    v, total, failed = signals.values, len(plan), plan.count(fail)
    assert signals.up and signals.reason is None, signals
    # Prometheus extrapolates each series to the window's edges, so rates are close, not exact.
    assert v["request_rate"] == pytest.approx(total / WINDOW, rel=0.03)
    assert v["prediction_rate"] == pytest.approx(total / WINDOW, rel=0.03)  # one prediction per request
    # The 5xx series is born with the first failure; extrapolating it back is good to a scrape or so.
    assert v["error_ratio"] == pytest.approx(failed / total, rel=0.1)
    buckets = _buckets(own)
    assert buckets[-1][1] == total
    for q, name in (
        (0.5, "latency_p50_seconds"),
        (0.95, "latency_p95_seconds"),
        (0.99, "latency_p99_seconds"),
    ):
        assert v[name] == pytest.approx(histogram_quantile(q, buckets), rel=0.03), name
    assert 0.025 <= v["latency_p50_seconds"] <= 0.05
    assert 0.1 <= v["latency_p99_seconds"] <= 0.25
    # The truth counts the server's CPU from its first scrape to after the last, scrapes included.
    true_cpu_per_1k = 1000 * (cpu_end - cpu_start) / total
    assert true_cpu_per_1k >= 8.0  # every request burnt 8 ms of CPU
    assert v["cpu_seconds_per_1k_predictions"] == pytest.approx(true_cpu_per_1k, rel=0.12)
    assert min(rss) * 0.9 <= v["memory_bytes"] <= max(rss) * 1.1
    expected_cost = cost_per_1k(
        v["cpu_seconds_per_1k_predictions"] / 1000, v["memory_bytes"], 1 / v["prediction_rate"], 0.9, 0.02
    )
    assert v["cost_per_1k_predictions"] == pytest.approx(expected_cost, rel=1e-9)
    true_cost = 1000 * (true_cpu_per_1k / 1000 * 0.9 / 3600 + max(rss) / 1e9 * (WINDOW / total) * 0.02 / 3600)
    assert v["cost_per_1k_predictions"] == pytest.approx(true_cost, rel=0.12)


def test_generic_preset_queries_select_the_handler_instance_and_5xx() -> None:
    model = ModelConfig.model_validate(
        {
            "name": "m",
            "server": {"url": "http://10.0.0.5:8000", "metrics": {"preset": "generic"}},
            "data": {"predictions": "/x"},
            "check": {"window": "5m"},
        }
    )
    q = render_queries(model)
    assert (
        q["request_rate"]
        == 'sum(rate(http_requests_total{instance="10.0.0.5:8000",handler="/predict"}[300s]))'
    )
    assert 'status=~"5.."' in q["error_ratio"] and "or vector(0)" in q["error_ratio"]
    assert q["latency_p95_seconds"].startswith(
        "histogram_quantile(0.95, sum by (le) (rate(http_request_duration"
    )
    custom = model.model_copy(
        update={
            "server": model.server.model_copy(update={"queries": {"memory_bytes": "max(my_rss{$process})"}})
        }
    )
    assert render_queries(custom)["memory_bytes"] == 'max(my_rss{instance="10.0.0.5:8000"})'


def _model(url: str, tmp_path: Path) -> ModelConfig:
    return ModelConfig.model_validate(
        {"name": "m", "server": {"url": url}, "data": {"predictions": str(tmp_path / "p")}}
    )


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("unreachable", "unreachable"), ("5xx", "answered 503"), ("timeout", "did not answer within")],
)
def test_a_failing_prometheus_makes_every_serving_value_unknown(loopback, tmp_path, kind, reason) -> None:
    if kind == "unreachable":
        url = f"http://127.0.0.1:{free_port()}"
    else:
        url = loopback.url

        def handler(req):  # noqa: ANN001
            if kind == "timeout":
                time.sleep(1.5)
            return 503, b"overloaded", "text/plain"

        loopback.handler = handler
    signals = PrometheusSource(PrometheusConfig(url=url, timeout=0.5)).read(
        _model(url, tmp_path), now=time.time()
    )
    assert not signals.up and reason in signals.reason
    assert all(value is None for value in signals.values.values())


def test_an_empty_prometheus_is_down_and_fires_no_rule(tmp_path, caplog) -> None:
    require_prometheus()
    from monitor.daemon.wiring import build_daemon

    rules = tmp_path / "rules.yaml"
    rules.write_text(
        yaml.safe_dump(
            {
                "rules": [
                    {
                        "name": "any-latency",
                        "when": "latency_p95_seconds >= 0 || error_ratio >= 0",
                        "actions": [{"pipeline": "notify"}],
                    },
                    {"name": "no-traffic", "when": "request_rate == 0", "actions": [{"pipeline": "notify"}]},
                ]
            }
        )
    )
    with PrometheusProcess(tmp_path, {}) as prom:
        config_path = tmp_path / "config.yaml"
        config_path.write_text(
            yaml.safe_dump(
                {
                    "state": f"sqlite:///{tmp_path}/state.db",
                    "registry": str(tmp_path / "registry"),
                    "prometheus": {"url": prom.url},
                    "rules": [str(rules)],
                    "models": [
                        {
                            "name": "m",
                            "server": {"url": "http://127.0.0.1:9"},
                            "data": {"predictions": str(tmp_path)},
                        }
                    ],
                }
            )
        )
        daemon = build_daemon(load_config(config_path), config_path)
        try:
            with caplog.at_level(logging.WARNING, logger="modelhealthd"):
                m = daemon.run_check("m")
            exposition = daemon.metrics.render().decode()
            states = daemon.store.rule_states.load("m")
        finally:
            daemon.store.close()
    assert m.values["latency_p95_seconds"] is None and m.values["request_rate"] is None
    assert 'modelhealth_source_up{kind="prometheus",model="m"} 0.0' in exposition
    assert 'modelhealth_check_failures_total{kind="source_down",model="m"} 1.0' in exposition
    assert any("Prometheus has no data" in r.getMessage() for r in caplog.records)
    assert all(s.get("state") not in ("pending", "firing") for s in states.values()), states
