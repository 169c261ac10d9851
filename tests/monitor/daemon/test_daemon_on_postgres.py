"""The real daemon on a PostgreSQL store: it checks, runs a job in a worker process (which
reaches the same database), promotes, and fills the decision log; a second daemon on the same
store is refused naming the first, and the lock goes when the daemon stops.

Each test gets a fresh database on the session's PostgreSQL server (tests/support/postgres.py);
a loopback stub stands in for the model server, and the job is a real retrain on a tiny MLP.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import yaml

from monitor.state.daemon_lock import holder
from monitor.state.store import StateStore
from reoptimize.job.first_versions import register_version
from reoptimize.registry.backends import open_registry
from tests.support.daemon_process import DaemonProcess, NotifySocket, wait_until
from tests.support.onnx_models import linear_classifier
from tests.support.reopt_e2e import free_port

pytestmark = pytest.mark.e2e
TOKEN = "pg-smoke-token"
RULES = "rules:\n  - {name: steady, when: 'rows >= 0', for: 1h, actions: [{pipeline: notify}]}\n"


@pytest.fixture
def world(tmp_path: Path, loopback, postgres_url: str):  # noqa: ANN201
    registry = open_registry(tmp_path / "registry")

    def handler(req):  # noqa: ANN001, ANN202
        if req.path == "/-/reload":
            return 200, json.dumps({"version": registry.production("m")}).encode(), "application/json"
        return 200, b"", "text/plain"

    loopback.handler = handler
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    frame["label"] = (frame["a"] > 0).astype(int)
    onnx_bytes = linear_classifier(np.array([[-3.0, 3.0], [0, 0], [0, 0]]))
    register_version(registry, "m", onnx_bytes, frame, ("a", "b", "c"), "label", task="classification")
    port = free_port()
    (tmp_path / "rules.yaml").write_text(RULES)
    config = tmp_path / "config.yaml"
    model = {
        "name": "m",
        "server": {"url": loopback.url, "token": "server-token", "timeout": "20s"},
        "data": {"predictions": str(tmp_path / "predictions" / "m")},
        "recipe": {
            "factory": "reoptimize.recipes.mlp:mlp",
            "params": {"hidden": [8]},
            "training": {"max_epochs": 3},
        },
        # Any candidate passes: this test is about the store, not about the gate.
        "policy": {"constraints": [], "objective": "holdout_accuracy", "min_improvement": -1.0},
        "check": {"every": "1s", "window": "1m"},
    }
    config.write_text(
        yaml.safe_dump(
            {
                "state": postgres_url,
                "registry": str(tmp_path / "registry"),
                "api": {"listen": f"127.0.0.1:{port}", "token": TOKEN},
                "rules": [str(tmp_path / "rules.yaml")],
                "jobs": {"concurrency": 1},
                "models": [model],
            }
        )
    )
    notify = NotifySocket()
    daemon = DaemonProcess(config, tmp_path / "daemon.log", notify)
    try:
        notify.wait_for("READY", timeout=60)
        yield daemon, config, f"http://127.0.0.1:{port}", postgres_url, registry
    finally:
        daemon.kill()
        notify.close()


def test_the_daemon_checks_runs_a_job_and_logs_its_decisions_on_postgresql(world) -> None:  # noqa: ANN001
    daemon, config, api, url, registry = world
    who = holder(url)
    assert who is not None and who.startswith(f"pid {daemon.proc.pid} on "), who

    second = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "run", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        second.returncode == 2 and f"is in use by pid {daemon.proc.pid} on " in second.stderr + second.stdout
    )

    get = lambda path, **params: requests.get(api + path, params=params, timeout=10).json()  # noqa: E731
    wait_until(lambda: get("/api/v1/checks", model="m"), 30, "a check of m")
    reply = requests.post(
        f"{api}/api/v1/models/m/trigger",
        json={"pipeline": "retrain", "reason": "postgres smoke"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert reply.status_code == 202 and reply.json()["queued"], reply.text
    job_id = reply.json()["job"]

    def finished() -> dict | None:
        job = get(f"/api/v1/jobs/{job_id}")
        return job if job["state"] not in ("queued", "running") else None

    job = wait_until(finished, 120, f"job {job_id} to finish", poll=0.5)
    assert job["state"] == "succeeded", job
    wait_until(lambda: registry.production("m") == "2", 30, "the candidate to be promoted")
    kinds = {d["kind"] for d in get("/api/v1/decisions", model="m")}
    assert {"job", "verdict", "promotion"} <= kinds, kinds
    assert daemon.stop(60) == 0

    # The rows are in PostgreSQL, and the stopped daemon's lock is gone.
    assert holder(url) is None
    store = StateStore.open(url)
    try:
        assert store.engine.dialect.name == "postgresql"
        assert store.jobs.get(job_id).state == "succeeded" and store.checks.count("m") >= 1
        assert [p.to_version for p in store.promotions.list("m") if p.state == "done"] == ["2"]
        assert any(job_id == d.job_id for d in store.decisions.list("m", kind="verdict"))
    finally:
        store.close()
