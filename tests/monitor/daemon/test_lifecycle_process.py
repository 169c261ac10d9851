"""The daemon as systemd runs it: a real subprocess, a fake NOTIFY_SOCKET, signals and JSON logs.

Each test starts ``modelhealthd run`` on a real registry and SQLite store, with a loopback
stub standing in for the model server (its ``/-/reload`` can be held open to catch a
promotion in flight). Jobs are real retrain workers on a tiny model; ``jobs.python`` points
at a wrapper script that first sleeps, so a job is reliably "in the middle" when a signal
arrives. After SIGHUP (good and bad configs) and SIGTERM (mid-job and mid-promotion) the
tests check the registry, the state store, the rule states, the notify messages and the
log lines.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests
import yaml

from monitor.state.store import StateStore
from reoptimize.job.first_versions import register_version
from reoptimize.registry.file_registry import FileRegistry
from tests.support.daemon_process import DaemonProcess, NotifySocket
from tests.support.onnx_models import linear_classifier
from tests.support.waiting import wait_until

TOKEN = "lifecycle-token"
WATCHDOG_USEC = 400_000  # a ping every 0.2 s
RULES = """
rules:
  - name: steady
    when: rows >= 0
    for: 1h
    actions: [{pipeline: notify}]
"""
MORE_RULES = (
    RULES
    + """
  - name: also-steady
    when: rows >= 0
    for: 1h
    actions: [{pipeline: notify}]
"""
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class World:
    tmp: Path
    server_url: str
    port: int = field(default_factory=_free_port)
    reload_requested: threading.Event = field(default_factory=threading.Event)
    release_reload: threading.Event = field(default_factory=threading.Event)
    processes: list[DaemonProcess] = field(default_factory=list)
    notify: NotifySocket = field(default_factory=NotifySocket)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.tmp / "config.yaml"

    @property
    def registry(self) -> FileRegistry:
        return FileRegistry(self.tmp / "registry")

    def wrapper(self, delay: float) -> str:
        """A worker interpreter that sleeps ``delay`` seconds first and notes its pid."""
        path = self.tmp / f"slow-python-{delay:g}"
        path.write_text(
            f'#!/bin/sh\necho $$ >> "{self.tmp}/worker.pids"\nsleep {delay}\nexec "{sys.executable}" "$@"\n'
        )
        path.chmod(0o755)
        return str(path)

    def model(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "server": {"url": self.server_url, "token": "server-token", "timeout": "20s"},
            "data": {"predictions": str(self.tmp / "predictions" / name)},
            "recipe": {
                "factory": "reoptimize.recipes.mlp:mlp",
                "params": {"hidden": [8]},
                "training": {"max_epochs": 3},
            },
            # Any candidate passes: these tests are about the lifecycle, not about the gate.
            "policy": {"constraints": [], "objective": "holdout_accuracy", "min_improvement": -1.0},
            "check": {"every": "1s", "window": "1m"},
        }

    def write_config(
        self, models: tuple[str, ...] = ("m",), rules: str = RULES, job_delay: float = 0.0, **extra: Any
    ) -> None:
        (self.tmp / "rules.yaml").write_text(rules)
        jobs = {"concurrency": 1, "drain_grace": "60s"} | extra.pop("jobs", {})
        if job_delay:
            jobs["python"] = self.wrapper(job_delay)
        config = {
            "state": f"sqlite:///{self.tmp}/state.db",
            "registry": str(self.tmp / "registry"),
            "api": {"listen": f"127.0.0.1:{self.port}", "token": TOKEN},
            "rules": [str(self.tmp / "rules.yaml")],
            "jobs": jobs,
            "models": [self.model(m) for m in models],
        } | extra
        self.config_path.write_text(yaml.safe_dump(config))

    def start(self) -> DaemonProcess:
        daemon = DaemonProcess(
            self.config_path, self.tmp / f"daemon-{len(self.processes)}.log", self.notify, WATCHDOG_USEC
        )
        self.processes.append(daemon)
        ready = len(self.notify.snapshot())
        self.notify.wait_for("READY", after=ready, timeout=60)
        return daemon

    def get(self, path: str, **params: Any) -> Any:
        response = requests.get(self.url + path, params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def trigger(self, model: str = "m") -> str:
        response = requests.post(
            f"{self.url}/api/v1/models/{model}/trigger",
            json={"pipeline": "retrain", "reason": "lifecycle test"},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["queued"], body
        return body["job"]

    def store(self) -> StateStore:
        return StateStore.open(f"sqlite:///{self.tmp}/state.db")

    def worker_pids(self) -> list[int]:
        path = self.tmp / "worker.pids"
        return [int(p) for p in path.read_text().split()] if path.exists() else []


@pytest.fixture
def world(tmp_path: Path, loopback):
    w = World(tmp_path, loopback.url)

    def handler(req):  # noqa: ANN001, ANN202
        if req.path == "/-/reload":
            w.reload_requested.set()
            w.release_reload.wait(30)
            version = w.registry.production("m")
            return 200, json.dumps({"version": version}).encode(), "application/json"
        return 200, b"", "text/plain"

    loopback.handler = handler
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    frame["label"] = (frame["a"] > 0).astype(int)
    onnx_bytes = linear_classifier(np.array([[-3.0, 3.0], [0, 0], [0, 0]]))
    for name in ("m", "m2"):
        register_version(w.registry, name, onnx_bytes, frame, ("a", "b", "c"), "label", task="classification")
    yield w
    w.release_reload.set()
    for daemon in w.processes:
        daemon.kill()
    w.notify.close()


def _job(world: World, job_id: str) -> dict[str, Any]:
    return world.get(f"/api/v1/jobs/{job_id}")


def _wait_running(world: World, job_id: str) -> None:
    wait_until(lambda: _job(world, job_id)["state"] == "running", 30, f"job {job_id} to run")


def test_ready_after_http_then_watchdog_pings_then_stopping(world: World) -> None:
    world.write_config()
    daemon = world.start()
    assert world.get("/healthz") == {"status": "ok"}  # READY came after the API listened
    ready = world.notify.wait_for("READY")
    assert "watching 1 model(s)" in ready["STATUS"]
    wait_until(lambda: world.notify.count("WATCHDOG") >= 3, 10, "three watchdog pings")
    assert daemon.stop(30) == 0
    assert world.notify.count("STOPPING") == 1
    events = [line.get("event") for line in daemon.lines() if line.get("event")]
    assert events[0] == "started" and "ready" in events
    assert events[-2:] == ["drain", "stopped"]
    for line in daemon.lines():
        assert {"ts", "level", "logger", "msg"} <= set(line)


def test_sighup_applies_a_good_config_without_losing_rule_states_or_jobs(world: World) -> None:
    world.write_config(job_delay=3.0)
    daemon = world.start()

    def steady_state() -> dict[str, Any] | None:
        states = {(r["rule"], r["model"]): r for r in world.get("/api/v1/rules")}
        state = states.get(("steady", "m"))
        return state if state and state.get("state") == "pending" else None

    before = wait_until(steady_state, 30, "rule steady to be pending for m")
    job_id = world.trigger()
    _wait_running(world, job_id)

    world.write_config(models=("m", "m2"), rules=MORE_RULES, job_delay=3.0)
    mark = len(world.notify.snapshot())
    daemon.signal(signal.SIGHUP)
    world.notify.wait_for("RELOADING", after=mark)
    reloaded = daemon.wait_event("reloaded")
    assert "added m2" in reloaded["msg"]
    assert world.notify.wait_for("READY", after=mark)["STATUS"].startswith("watching 2 model(s)")
    assert [m["model"] for m in world.get("/api/v1/models")] == ["m", "m2"]

    # The job that was running goes on; the rule's state kept its start; the new rule joins in.
    assert _job(world, job_id)["state"] == "running"
    after = steady_state()
    assert after is not None and after["active_since"] == before["active_since"]
    wait_until(
        lambda: (
            {(r["rule"], r["model"]) for r in world.get("/api/v1/rules")}
            >= {("also-steady", "m"), ("steady", "m2")}
        ),
        30,
        "the new rule and the new model to be evaluated",
    )
    world.release_reload.set()
    wait_until(lambda: _job(world, job_id)["state"] == "succeeded", 60, "the job to succeed")
    wait_until(lambda: world.registry.production("m") == "2", 30, "the promotion of v2")
    assert daemon.stop(60) == 0
    job_lines = [line for line in daemon.lines() if line.get("job") == job_id]
    assert {line.get("model") for line in job_lines} == {"m"}
    assert any("succeeded" in line["msg"] for line in job_lines)
    rule_lines = [line for line in daemon.lines() if line.get("rule") == "steady"]
    assert rule_lines and {line.get("model") for line in rule_lines} >= {"m", "m2"}


def test_sighup_refuses_bad_configs_and_keeps_the_running_one(world: World) -> None:
    world.write_config()
    daemon = world.start()
    good = world.config_path.read_text()
    bad_cases = [
        (good.replace("every: 1s", "every: soon"), "models[0].check.every"),
        (good.replace(f"127.0.0.1:{world.port}", "127.0.0.1:1"), "api.listen"),
    ]
    for n, (text, expected) in enumerate(bad_cases, start=1):
        world.config_path.write_text(text)
        mark = len(world.notify.snapshot())
        daemon.signal(signal.SIGHUP)
        refused = daemon.wait_event("reload_refused", count=n)
        assert expected in refused["msg"] and refused["level"] == "error"
        status = world.notify.wait_for("READY", after=mark)["STATUS"]
        assert status.startswith("reload refused") and expected in status

    # Rules that do not load are refused too, naming the rule and the unknown measurement.
    world.config_path.write_text(good)
    (world.tmp / "rules.yaml").write_text(RULES.replace("rows >= 0", "rowz >= 0"))
    daemon.signal(signal.SIGHUP)
    refused = daemon.wait_event("reload_refused", count=3)
    assert "rowz" in refused["msg"] and "steady" in refused["msg"]

    # The old config still runs: same model, same API, checks go on.
    assert [m["model"] for m in world.get("/api/v1/models")] == ["m"]
    checks = len(world.get("/api/v1/checks", model="m", limit=1000))
    wait_until(lambda: len(world.get("/api/v1/checks", model="m", limit=1000)) > checks, 10, "another check")
    assert daemon.events("reloaded") == []

    (world.tmp / "rules.yaml").write_text(RULES)
    daemon.signal(signal.SIGHUP)
    daemon.wait_event("reloaded")
    assert daemon.stop(30) == 0


def test_sigterm_cancels_and_records_a_job_still_running_after_the_grace(world: World) -> None:
    world.write_config(job_delay=120.0, jobs={"drain_grace": "1s"})
    daemon = world.start()
    job_id = world.trigger()
    _wait_running(world, job_id)
    wait_until(world.worker_pids, 10, "the worker to start")
    started = time.monotonic()
    assert daemon.stop(60) == 0
    assert time.monotonic() - started < 30

    store = world.store()
    job = store.jobs.get(job_id)
    assert job is not None and job.state == "cancelled"
    assert job.error == "cancelled at shutdown: still running after the drain grace of 1s"
    assert any(job_id in d.message and "cancelled" in d.message for d in store.decisions.list("m"))
    store.close()
    for pid in world.worker_pids():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert world.registry.production("m") == "1" and world.registry.versions("m") == ["1"]
    cancelled = daemon.events("job_cancelled")
    assert len(cancelled) == 1 and cancelled[0]["job"] == job_id and cancelled[0]["model"] == "m"
    assert "1 cancelled" in daemon.events("stopped")[0]["msg"]
    assert world.notify.count("STOPPING") == 1


def test_sigterm_lets_a_running_job_finish_and_promote_but_starts_no_queued_job(world: World) -> None:
    world.write_config(models=("m", "m2"), job_delay=2.0)
    world.release_reload.set()
    daemon = world.start()
    running = world.trigger("m")
    _wait_running(world, running)
    # A job queued behind it (concurrency 1): it would start as soon as the first one ends.
    store = world.store()
    queued = store.jobs.create("m2", "retrain", {}, {"rule": "manual"}, now=time.time()).id
    store.close()
    time.sleep(1.5)
    assert _job(world, queued)["state"] == "queued"
    assert daemon.stop(90) == 0

    store = world.store()
    assert store.jobs.get(running).state == "succeeded"
    assert store.jobs.get(queued).state == "queued"  # draining: it never started
    (promotion,) = store.promotions.list("m")
    assert (promotion.state, promotion.to_version, promotion.reload["ok"]) == ("done", "2", True)
    store.close()
    assert world.registry.production("m") == "2" and world.registry.production("m2") == "1"
    stopped = daemon.events("stopped")[0]["msg"]
    assert "1 job(s) finished while draining" in stopped and "1 left queued" in stopped


def test_sigterm_during_a_promotion_waits_for_it_to_complete(world: World) -> None:
    world.write_config()
    daemon = world.start()
    job_id = world.trigger()
    assert world.reload_requested.wait(60), "the promotion never called the reload hook"
    daemon.signal(signal.SIGTERM)
    daemon.wait_event("drain")
    time.sleep(1.0)  # the reload hook is still held open: the daemon must wait for the tick
    assert daemon.alive()
    world.release_reload.set()
    assert daemon.wait(60) == 0

    store = world.store()
    (promotion,) = store.promotions.list("m")
    assert promotion.state == "done" and promotion.job_id == job_id and promotion.reload["ok"] is True
    store.close()
    assert world.registry.production("m") == "2"
    messages = [line["msg"] for line in daemon.lines()]
    promoted = messages.index("m v2 is production (was v1)")
    assert promoted < messages.index(daemon.events("stopped")[0]["msg"])


def test_start_reconciles_promotion_intents_left_by_a_crash(world: World) -> None:
    registry = world.registry
    frame = pd.read_parquet(registry.file("m", "1", "reference.parquet"))
    onnx_bytes = registry.read_bytes("m", "1", "model.onnx")
    for _ in range(2):
        register_version(registry, "m", onnx_bytes, frame, ("a", "b", "c"), "label", task="classification")
    # A crash after the pointer moved (1 -> 2), and a crash before it moved (2 -> 3).
    store = world.store()
    store.promotions.record_intent("m", "1", "2", "promote", "crashed after the switch", 1.0, None)
    registry.set_production("m", "2")
    store.promotions.record_intent("m", "2", "3", "promote", "crashed before the switch", 2.0, None)
    store.close()
    world.release_reload.set()

    world.write_config()
    daemon = world.start()
    lines = daemon.events("reconcile")
    assert [line["model"] for line in lines] == ["m", "m"]
    assert "completed promotion of v2" in lines[0]["msg"] and "aborted promotion of v3" in lines[1]["msg"]
    assert world.reload_requested.is_set()
    assert daemon.stop(30) == 0
    store = world.store()
    assert [(p.to_version, p.state) for p in reversed(store.promotions.list("m"))] == [
        ("2", "done"),
        ("3", "aborted"),
    ]
    assert store.promotions.pending_intents() == []
    store.close()
    assert registry.production("m") == "2"


def test_jobs_cancel_from_the_command_line_stops_the_running_worker(world: World) -> None:
    import subprocess

    world.write_config(job_delay=120.0)
    daemon = world.start()
    job_id = world.trigger()
    _wait_running(world, job_id)
    (pid,) = wait_until(world.worker_pids, 10, "the worker to start")
    cancel = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "jobs", "cancel", job_id, "-c", str(world.config_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cancel.returncode == 0, cancel.stderr

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_until(gone, 20, "the daemon to stop the cancelled job's worker")
    assert _job(world, job_id)["state"] == "cancelled"
    wait_until(
        lambda: any(job_id in d["message"] for d in world.get("/api/v1/decisions", job=job_id)),
        10,
        "the cancellation in the decision log",
    )
    assert daemon.stop(30) == 0
    assert "0 cancelled" in daemon.events("stopped")[0]["msg"]
