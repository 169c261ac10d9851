"""Real Prometheus and Alertmanager processes (Debian's packages) on free loopback ports, for tests.

``tests.support.prometheus.PrometheusProcess`` builds a scrape-only config for one; these run a
config the test prepares, typically the project's own ``deploy/prometheus/prometheus.yml`` and
``deploy/alertmanager/alertmanager.yml`` with ports and paths rewritten, so the shipped files
themselves are what runs:

    with PrometheusServer(tmp_path, config) as prom, AlertmanagerServer(tmp_path, am_config) as am:
        prom.query_range("modelhealth_rows", start, end)
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.support.binaries import require


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Process:
    binary = ""  # the name on PATH; start() fails the test, naming it, when it is not installed

    def __init__(self, workdir: Path, config: dict[str, Any], name: str):
        self.workdir = Path(workdir) / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_file = self.workdir / f"{name}.yml"
        self.config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log_file = self.workdir / f"{name}.log"
        self.process: subprocess.Popen | None = None
        self.executable = ""

    def argv(self) -> list[str]:
        raise NotImplementedError

    def start(self, deadline_seconds: float = 30.0):  # noqa: ANN201
        self.executable = require(self.binary)
        with open(self.log_file, "wb") as log:
            self.process = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.binary} exited with {self.process.returncode}: {self.log()}")
            try:
                if requests.get(self.url + "/-/ready", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.binary} was not ready within {deadline_seconds}s: {self.log()}")

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")[-3000:] if self.log_file.exists() else ""

    def stop(self, grace: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def __enter__(self):  # noqa: ANN204
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PrometheusServer(_Process):
    """Prometheus running ``config`` (relative rule and target paths resolve against ``workdir/prometheus``)."""

    binary = "prometheus"

    def __init__(self, workdir: Path, config: dict[str, Any]):
        super().__init__(workdir, config, "prometheus")

    def argv(self) -> list[str]:
        return [
            self.executable,
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        body = requests.get(self.url + path, params=params, timeout=30).json()
        if body.get("status") != "success":
            raise RuntimeError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """The result vector of an instant query (raises on a failed query)."""
        params: dict[str, Any] = {"query": promql}
        if at is not None:
            params["time"] = at
        return self._get("/api/v1/query", params)["result"]

    def query_range(self, promql: str, start: float, end: float, step: float = 1.0) -> list[dict[str, Any]]:
        """Every series of a range query, as Grafana runs a panel's query."""
        return self._get("/api/v1/query_range", {"query": promql, "start": start, "end": end, "step": step})[
            "result"
        ]

    def label_values(self, label: str, match: str) -> list[str]:
        return self._get(f"/api/v1/label/{label}/values", {"match[]": match})

    def alerts(self) -> list[dict[str, Any]]:
        return self._get("/api/v1/alerts", {})["alerts"]

    def rule_health(self) -> list[tuple[str, str, str]]:
        """(rule name, health, last error) of every loaded rule."""
        groups = self._get("/api/v1/rules", {})["groups"]
        return [(r["name"], r["health"], r.get("lastError", "")) for g in groups for r in g["rules"]]


class AlertmanagerServer(_Process):
    """Alertmanager running ``config``, clustering off."""

    binary = "prometheus-alertmanager"

    def __init__(self, workdir: Path, config: dict[str, Any]):
        super().__init__(workdir, config, "alertmanager")

    def argv(self) -> list[str]:
        return [
            self.executable,
            f"--config.file={self.config_file}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]

    def alerts(self) -> list[dict[str, Any]]:
        return requests.get(self.url + "/api/v2/alerts", timeout=10).json()
