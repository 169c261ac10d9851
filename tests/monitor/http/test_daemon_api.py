"""The daemon in-process with its real HTTP API on loopback: reads, auth, labels, triggers, metrics.

The model's server is a loopback stub serving an empty /metrics (the serving source is then
down, which must make serving measurements unknown), and no recipe is configured, so a
triggered retrain job fails in its worker: production must stay untouched.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import yaml

from monitor.config import load_config
from monitor.daemon.wiring import build_daemon
from reoptimize.job.first_versions import register_version
from reoptimize.registry.backends import open_registry
from tests.support.binaries import require
from tests.support.onnx_models import linear_classifier
from tests.support.waiting import wait_until

TOKEN = "api-test-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def daemon(tmp_path: Path, loopback):
    loopback.handler = lambda req: (200, b"", "text/plain")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    frame["label"] = (frame["a"] > 0).astype(int)
    registry = open_registry(tmp_path / "registry")
    onnx_bytes = linear_classifier(np.array([[-3.0, 3.0], [0, 0], [0, 0]]))  # feature a decides the class
    register_version(registry, "m", onnx_bytes, frame, ("a", "b", "c"), "label", task="classification")
    port = _free_port()
    config_path = tmp_path / "config.yaml"
    config_path.write_text(
        yaml.safe_dump(
            {
                "state": f"sqlite:///{tmp_path}/state.db",
                "registry": str(tmp_path / "registry"),
                "api": {"listen": f"127.0.0.1:{port}", "token": TOKEN, "max_body_bytes": 20000},
                "models": [
                    {
                        "name": "m",
                        "server": {"url": loopback.url},
                        "data": {"predictions": str(tmp_path / "predictions")},
                        "check": {"every": "1h"},
                    }
                ],
            }
        )
    )
    d = build_daemon(load_config(config_path), config_path)
    d.start()
    yield d, f"http://127.0.0.1:{port}"
    d.stop(grace=5)


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_read_endpoints_and_metrics(daemon) -> None:
    d, url = daemon
    assert requests.get(url + "/healthz").json() == {"status": "ok"}
    assert requests.get(url + "/readyz").status_code == 200
    models = requests.get(url + "/api/v1/models").json()
    assert models[0]["model"] == "m" and models[0]["production_version"] == "1"
    assert requests.get(url + "/api/v1/models/nope").status_code == 404
    assert requests.get(url + "/api/v1/models/m/versions/1").json()["features"] == ["a", "b", "c"]
    assert requests.get(url + "/api/v1/models/m/versions/..%2f..").status_code == 404
    assert "/api/v1/labels" in requests.get(url + "/openapi.json").json()["paths"]
    exposition = requests.get(url + "/metrics").content
    lint = subprocess.run([require("promtool"), "check", "metrics"], input=exposition, capture_output=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert b'modelhealth_production_version{model="m"} 1.0' in exposition


def test_writes_need_the_token_and_bodies_are_capped(daemon) -> None:
    d, url = daemon
    body = {"model": "m", "labels": [{"request_id": "r1", "label": 1}]}
    assert requests.post(url + "/api/v1/labels", json=body).status_code == 401
    assert requests.post(url + "/api/v1/labels", json=body, headers=_auth("wrong")).status_code == 403
    assert d.store.labels.since("m", 0) == {}
    ok = requests.post(url + "/api/v1/labels", json=body, headers=_auth())
    assert ok.status_code == 202 and d.store.labels.since("m", 0) == {"r1": 1}
    bad = requests.post(
        url + "/api/v1/labels", json={"model": "m", "labels": [{"label": 1}]}, headers=_auth()
    )
    assert bad.status_code == 422 and "request_id" in bad.text
    huge = {"model": "m", "labels": [{"request_id": f"r{i}", "label": 1} for i in range(2000)]}
    assert requests.post(url + "/api/v1/labels", json=huge, headers=_auth()).status_code == 413
    assert len(d.store.labels.since("m", 0)) == 1


def test_check_with_the_server_down_is_unknown_not_zero(daemon) -> None:
    d, url = daemon
    m = requests.post(url + "/api/v1/models/m/check", headers=_auth()).json()
    assert m["values"]["latency_p95_seconds"] is None and m["values"]["error_ratio"] is None
    assert m["values"]["rows"] == 0 and m["values"]["model_size_bytes"] > 0
    exposition = requests.get(url + "/metrics").text
    assert 'modelhealth_source_up{kind="scrape",model="m"} 0.0' in exposition
    assert "modelhealth_latency_p95_seconds{" not in exposition


def test_failing_job_leaves_production_untouched(daemon) -> None:
    d, url = daemon
    answer = requests.post(url + "/api/v1/models/m/trigger", json={"pipeline": "retrain"}, headers=_auth())
    assert answer.status_code == 202 and answer.json()["queued"], answer.text
    job_id = answer.json()["job"]

    def ended() -> dict | None:
        job = requests.get(f"{url}/api/v1/jobs/{job_id}").json()
        return job if job["state"] not in ("queued", "running") else None

    job = wait_until(ended, 60, f"job {job_id} to end", poll=0.2)
    assert job["state"] == "failed" and "no recipe" in job["error"]
    assert open_registry(d.config.registry.settings()).production("m") == "1"

    def decision_messages() -> list[str]:
        return [x["message"] for x in requests.get(url + "/api/v1/decisions", params={"model": "m"}).json()]

    wait_until(
        lambda: any(f"job {job_id} failed" in msg for msg in decision_messages()),
        10,
        "the job's failure in the decision log",
        poll=0.2,
    )
    messages = decision_messages()
    assert any(f"job {job_id} failed: ValueError: model 'm' has no recipe" in msg for msg in messages), (
        messages
    )
    assert (
        requests.post(
            url + "/api/v1/models/m/trigger", json={"pipeline": "bogus"}, headers=_auth()
        ).status_code
        == 422
    )


def test_trigger_command_follows_the_job_to_its_end(daemon, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from monitor.cli import app
    from monitor.cli.trigger_cmd import describe, parse_params

    d, url = daemon
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    args = [
        "trigger",
        "m",
        "retrain",
        "--with",
        "max_epochs=3",
        "--api",
        url,
        "--token-file",
        str(token_file),
    ]
    result = CliRunner().invoke(app, [*args, "--wait", "--timeout", "60"])
    assert result.exit_code == 1, result.output
    assert "no recipe" in result.output
    job = d.store.jobs.list("m")[0]
    assert job.state == "failed" and job.params == {"max_epochs": 3}
    bad = CliRunner().invoke(
        app, ["trigger", "m", "retrain", "--with", "oops", "--api", url, "--token-file", str(token_file)]
    )
    assert bad.exit_code == 2 and "key=value" in bad.output
    assert parse_params(["a=1", "b=[1, 2]", "c=shift"]) == {"a": 1, "b": [1, 2], "c": "shift"}
    line, done, total = describe(
        {"stage": "train", "step": "retrain", "epoch": 4, "max_epochs": 30, "val_loss": 0.25}
    )
    assert (line, done, total) == ("train retrain epoch 4/30 val_loss 0.25", 4, 30)
