"""Metrics source down: Prometheus stops, fails, stalls or has no data in the middle of checks.

A real Prometheus scrapes a real instrumented model server (``serving.instrument``); the
daemon asks it through a fault-injecting loopback proxy (``support_fault_proxy``). Before each
fault one rule is pending, one firing (with an action it repeats at every true check) and one
inactive (it would fire if an unknown value were read as 0). During the fault every serving
measurement must be unknown, no rule may change state or act, nothing is queued or promoted,
``modelhealth_source_up`` is 0 and the log says why. Once the fault clears the source is up
again and the pending rule fires, so the checks did keep running.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rules.state_machine import RuleState
from serving.instrument import ServerInstrumentation
from tests.reliability.support_fault_proxy import FaultProxy
from tests.reliability.support_state import sample, seed
from tests.support.alerting import register_model, start_daemon, write_config
from tests.support.prometheus import PrometheusProcess, require_prometheus
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.prometheus]

RULES = """\
rules:
  - name: seen-pending
    when: request_rate > 0
    for: 1s
    actions: [{pipeline: notify}]
  - name: seen-firing
    when: request_rate > 0
    keep_firing_for: 0s
    cooldown: 0s
    actions: [{pipeline: notify}]
  - name: traffic-gone
    when: request_rate < 0.0001 || latency_p95_seconds < 0
    actions: [{pipeline: retrain}]
"""
SERVING = ("request_rate", "prediction_rate", "error_ratio", "latency_p95_seconds", "memory_bytes")
# What the log must say for each fault (the reason the source gives).
REASONS = {
    "refuse": "Connection refused",
    "reset": "unreachable",
    "status:503": "answered 503",
    "status:500": "answered 500",
    "slow": "did not answer within",
    "empty": "has no data",
    "garbage": "not JSON",
    "truncated": "not JSON",
    "bad_data": "failed (400)",
    "nan": "has no data",
    "shape": "unexpected shape",
    "prometheus_killed": "unreachable",
}
# Failures that start within one check's queries (an empty answer there is partial data, not a
# failure: the values it lacks are unknown and the others stand).
MID_CHECK = ("reset", "status:503", "slow", "garbage", "truncated", "bad_data")


class InstrumentedServer:
    """A model server's metrics: ``serving.instrument`` on loopback, with steady traffic."""

    def __init__(self) -> None:
        self.instr = ServerInstrumentation("m")
        instr = self.instr

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body, ctype = instr.render_metrics()
                self.send_response(200)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.stop = threading.Event()
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        threading.Thread(target=self._traffic, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    def _traffic(self) -> None:
        while not self.stop.wait(0.02):
            with self.instr.request() as req:
                req.rows = 1

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stack(tmp_path):
    require_prometheus()
    server = InstrumentedServer()
    prom = PrometheusProcess(tmp_path, {"server": [server.address]}).start()
    proxy = FaultProxy(prom.url, delay=1.5)
    register_model(tmp_path / "registry")
    config = write_config(
        tmp_path,
        f"http://{server.address}",
        rules=RULES,
        prometheus={"url": proxy.url, "timeout": "0.5s"},
        guards={"breaker_threshold": 100},
    )
    daemon, _ = start_daemon(config)
    try:
        yield daemon, proxy, prom
    finally:
        daemon.stop(grace=5)
        proxy.close()
        prom.stop()
        server.close()


def _wait_for_data(daemon, deadline_s: float = 30.0) -> None:
    wait_until(
        lambda: daemon.run_check("m").values.get("request_rate"),
        deadline_s,
        "a request rate from Prometheus for the model",
        poll=0.2,
    )


def _states(daemon) -> dict[str, dict]:
    keep = ("state", "active_since", "firing_since", "keep_firing_since", "last_proposed_at", "resolved_at")
    return {rule: {k: s.get(k) for k in keep} for (rule, _), s in daemon.store.rule_states.load("m").items()}


def _start_trial(daemon, proxy) -> None:
    """A clean slate: forget rule states, then one good check (pending, firing, inactive)."""
    proxy.set("pass")
    fresh = RuleState().to_json()
    daemon.store.rule_states.save(
        "m", dict.fromkeys(("seen-pending", "seen-firing", "traffic-gone"), fresh), time.time()
    )
    m = daemon.run_check("m")
    assert m.values["request_rate"], m.notes
    states = _states(daemon)
    assert [states[r]["state"] for r in ("seen-pending", "seen-firing", "traffic-gone")] == [
        "pending",
        "firing",
        "inactive",
    ]


def _inject(fault: str, proxy, prom, mid_check: bool) -> None:
    if fault == "prometheus_killed":
        prom.stop()
    elif mid_check:
        proxy.fail_after(random.randint(1, 6), fault)  # a check asks 8 queries: fail within one
    else:
        proxy.set(fault)


def _clear(fault: str, proxy, prom) -> None:
    proxy.set("pass")
    if fault == "prometheus_killed":
        prom.start()


def test_a_failing_source_makes_rules_wait_and_changes_nothing(stack, report, caplog) -> None:
    daemon, proxy, prom = stack
    random.seed(seed())
    _wait_for_data(daemon)
    faults = list(REASONS)
    random.shuffle(faults)
    plan = [(f, False) for f in faults] + [(f, True) for f in random.sample(MID_CHECK, 3)]
    passes, injected = 0, 0
    for fault, mid_check in plan:
        _start_trial(daemon, proxy)
        before = _states(daemon)
        decisions = len(daemon.store.decisions.list("m", limit=10_000))
        jobs, promotions = daemon.store.jobs.list("m"), daemon.store.promotions.list("m")
        production = daemon.registry.production("m")
        served_before = proxy.faults_served
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="modelhealthd"):
            _inject(fault, proxy, prom, mid_check)
            started = time.monotonic()
            checks = 0
            # Checks keep running for longer than the pending rule's `for`.
            while checks < 2 or time.monotonic() - started < 1.5:
                m = daemon.run_check("m")
                checks += 1
                unknown = {name: m.values.get(name) for name in SERVING}
                assert all(v is None for v in unknown.values()), (fault, unknown)
                time.sleep(0.1)
            exposition = daemon.metrics.render().decode()
        injected += 1
        what = f"{fault}{' mid-check' if mid_check else ''}"
        # A closed port or a dead upstream is not a fault the proxy serves; the reason says it.
        assert fault in ("refuse", "prometheus_killed") or proxy.faults_served > served_before, what
        assert _states(daemon) == before, what
        assert len(daemon.store.decisions.list("m", limit=10_000)) == decisions, what
        assert daemon.store.jobs.list("m") == jobs and daemon.store.promotions.list("m") == promotions, what
        assert daemon.registry.production("m") == production, what
        assert sample(exposition, "modelhealth_source_up", model="m", kind="prometheus") == 0.0, what
        said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("serving source:")]
        assert said and all(REASONS[fault] in s for s in said), (what, said)
        assert REASONS[fault] in daemon.store.checks.latest("m").details["notes"][0], what

        _clear(fault, proxy, prom)
        _wait_for_data(daemon)
        exposition = daemon.metrics.render().decode()
        assert sample(exposition, "modelhealth_source_up", model="m", kind="prometheus") == 1.0, what
        assert _states(daemon)["seen-pending"]["state"] == "firing", what
        passes += 1
    failures = sample(
        daemon.metrics.render().decode(), "modelhealth_check_failures_total", model="m", kind="source_down"
    )
    assert failures is not None and failures >= injected * 2
    report.record(
        "metrics source down",
        trials=len(plan),
        faults=injected,
        passes=passes,
        note=f"faults: {', '.join(f + ('*' if mid else '') for f, mid in plan)} (* mid-check)",
    )
