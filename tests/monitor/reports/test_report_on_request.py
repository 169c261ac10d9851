"""Evidently's HTML report on request, through the daemon's real HTTP API and report worker."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import requests
import yaml

from monitor.config import load_config
from monitor.daemon.wiring import build_daemon
from reoptimize.registry.backends import open_registry
from tests.support.prometheus import free_port
from tests.support.traffic import log_traffic, register_classifier

TOKEN = "report-token"
FEATURES = ("a", "b", "c")


@pytest.fixture
def daemon(tmp_path: Path, loopback):
    loopback.handler = lambda req: (200, b"", "text/plain")
    rng = np.random.default_rng(11)
    registry = open_registry(tmp_path / "registry")
    _, onnx_bytes = register_classifier(
        registry, "m", np.array([[-3.0, 3.0], [0, 0], [0, 0]]), rng.normal(size=(1500, 3)), FEATURES, rng
    )
    rows = rng.normal(size=(600, 3))
    rows[:, 0] += 1.0
    rows[:, 1] += 2.0
    log_traffic(tmp_path / "log", "m", "1", onnx_bytes, rows, FEATURES, time.time() - 30)
    port = free_port()
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({
        "state": f"sqlite:///{tmp_path}/state.db", "registry": str(tmp_path / "registry"), "dry_run": True,
        "api": {"listen": f"127.0.0.1:{port}", "token": TOKEN},
        "models": [{"name": "m", "server": {"url": loopback.url}, "data": {"predictions": str(tmp_path / "log")},
                    "check": {"every": "1h", "report": "on_request"}}]}))  # fmt: skip
    d = build_daemon(load_config(path), path)
    d.start()
    yield d, f"http://127.0.0.1:{port}"
    d.stop(grace=5)


def test_a_report_is_rendered_on_request_with_the_drift_impact(daemon) -> None:
    d, url = daemon
    auth = {"Authorization": f"Bearer {TOKEN}"}
    check = requests.post(url + "/api/v1/models/m/check", headers=auth).json()
    assert check["values"]["dataset_drift"] == 1.0 and check["values"]["drift_impact"] > 0
    assert d.reports.running == {}  # report: on_request, so the drifted check rendered nothing
    assert requests.post(url + "/api/v1/models/m/report").status_code == 401
    assert requests.post(url + "/api/v1/models/nope/report", headers=auth).status_code == 404
    answer = requests.post(url + "/api/v1/models/m/report", headers=auth)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] == "rendering" and body["rows"] == 600 and body["report"].startswith("/reports/m/")
    again = requests.post(url + "/api/v1/models/m/report", headers=auth)
    assert again.status_code == 409 and again.json()["report"] == body["report"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        d.tick()
        page = requests.get(url + body["report"])
        if page.status_code == 200:
            break
        time.sleep(0.5)
    assert page.status_code == 200, page.text
    html = page.text
    assert (
        'id="modelhealthd-impact"' in html and "accuracy drop" not in html
    )  # no labels: changed predictions
    assert "<td>a</td>" in html and "<td>b</td>" in html
    assert body["report"].rsplit("/", 1)[1] in requests.get(url + "/reports/m").json()
    assert list((Path(d.config.reports_dir) / "workspace").rglob("*.json"))  # the snapshot for `evidently ui`
