"""Helpers for alerting tests: a daemon on loopback with one registered model, and alert payloads.

``start_daemon`` runs the real :class:`monitor.daemon.service.Daemon` in-process with its real HTTP API
on a free loopback port. The model has no recipe unless one is given, so a job started for it
fails fast in its worker process: enough to count jobs without training anything.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from monitor.config import load_config
from monitor.daemon.service import Daemon
from monitor.daemon.wiring import build_daemon
from reoptimize.job.first_versions import register_version
from reoptimize.registry.backends import open_registry
from tests.support.onnx_models import linear_classifier

TOKEN = "hook-test-token"

ALERT_RULES = """\
rules:
  - name: drift-alert
    source: alert
    match: {alertname: ModelFeatureDrift}
    cooldown: 0s
    severity: warning
    actions: [{pipeline: retrain}]
  - name: never
    when: drift_share > 2
    actions: [{pipeline: notify}]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def register_model(registry_dir: Path, model: str = "m", rows: int = 300) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(rows, 3)), columns=["a", "b", "c"])
    frame["label"] = (frame["a"] > 0).astype(int)
    onnx_bytes = linear_classifier(np.array([[-3.0, 3.0], [0, 0], [0, 0]]))
    register_version(
        open_registry(registry_dir), model, onnx_bytes, frame, ("a", "b", "c"), "label", task="classification"
    )


def write_config(
    tmp_path: Path,
    server_url: str,
    rules: str = ALERT_RULES,
    models: tuple[str, ...] = ("m",),
    **extra: Any,
) -> Path:
    """A config file for ``models`` served at ``server_url``; ``extra`` adds or replaces top-level keys."""
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(rules)
    config = {
        "state": f"sqlite:///{tmp_path}/state.db",
        "registry": str(tmp_path / "registry"),
        "api": {"listen": f"127.0.0.1:{free_port()}", "token": TOKEN, "max_body_bytes": 20000},
        "rules": [str(rules_file)],
        "models": [
            {
                "name": name,
                "server": {"url": server_url},
                "data": {"predictions": str(tmp_path / "predictions" / name)},
                "check": {"every": "1h"},
            }
            for name in models
        ],
    }
    config.update(extra)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_daemon(config_path: Path, clock: Callable[[], float] = time.time) -> tuple[Daemon, str]:
    daemon = build_daemon(load_config(config_path), config_path, clock=clock)
    daemon.start()
    return daemon, f"http://{daemon.config.api.listen}"


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def alert(
    alertname: str = "ModelFeatureDrift",
    model: str = "m",
    status: str = "firing",
    starts_at: str = "2026-11-28T20:00:00.000Z",
    fingerprint: str | None = None,
    **labels: str,
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": alertname, "model": model, **labels},
        "annotations": {"summary": f"{alertname} on {model}"},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": fingerprint or f"{abs(hash((alertname, model))) % 16**16:016x}",
    }


def notification(
    *alerts: Mapping[str, Any],
    source: str = "alertmanager",
    group_key: str = '{}:{alertname="ModelFeatureDrift"}',
) -> dict[str, Any]:
    """An Alertmanager (version 4) or Grafana (version 1) webhook body holding ``alerts``."""
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    body: dict[str, Any] = {
        "version": "4" if source == "alertmanager" else "1",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "modelhealthd",
        "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]} if alerts else {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }
    if source == "grafana":
        body |= {"orgId": 1, "title": "[FIRING:1] drift", "state": "alerting", "message": "drift"}
        for a in body["alerts"]:
            a |= {"values": {"A": 0.6}, "valueString": "[ var='A' value=0.6 ]", "silenceURL": ""}
    return body
