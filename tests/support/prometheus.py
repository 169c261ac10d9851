"""A real Prometheus server (Debian's ``/usr/bin/prometheus``) on a free loopback port, for tests.

    with PrometheusProcess(tmp_path, {"server": ["127.0.0.1:8080"]}) as prom:
        prom.wait_for_samples('up{job="server"} == 1', deadline_seconds=20)
        prom.query('sum(rate(http_requests_total[1m]))')

Each scrape job scrapes its targets every ``scrape_interval`` (1 s by default). Storage lives in
a temporary directory; the process is stopped (and killed after a grace period) on exit.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_prometheus() -> None:
    """Skip the calling test when the prometheus binary is not installed (``.ci/run`` installs it)."""
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.skip("the prometheus binary is not installed (apt-get install prometheus)")


class PrometheusProcess:
    """One Prometheus process scraping ``jobs`` (job name -> ``host:port`` targets)."""

    def __init__(
        self,
        workdir: Path,
        jobs: Mapping[str, Sequence[str]],
        scrape_interval: str = "1s",
        metrics_path: str = "/metrics",
    ):
        self.workdir = Path(workdir) / "prometheus"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": scrape_interval, "scrape_timeout": scrape_interval},
            "scrape_configs": [
                {
                    "job_name": job,
                    "metrics_path": metrics_path,
                    "static_configs": [{"targets": list(targets)}],
                }
                for job, targets in jobs.items()
            ],
        }
        self.config_file = self.workdir / "prometheus.yml"
        self.config_file.write_text(yaml.safe_dump(config))
        self.process: subprocess.Popen | None = None
        self.log_file = self.workdir / "prometheus.log"

    def start(self, deadline_seconds: float = 30.0) -> PrometheusProcess:
        require_prometheus()
        argv = [
            PROMETHEUS,
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        with open(self.log_file, "wb") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.process.returncode}: {self.log()}")
            try:
                if requests.get(self.url + "/-/ready", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"prometheus was not ready within {deadline_seconds}s: {self.log()}")

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""

    def stop(self, grace: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def __enter__(self) -> PrometheusProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """The result vector of an instant query (raises on a failed query)."""
        params: dict[str, Any] = {"query": promql}
        if at is not None:
            params["time"] = at
        body = requests.get(self.url + "/api/v1/query", params=params, timeout=10).json()
        if body.get("status") != "success":
            raise RuntimeError(f"query {promql!r} failed: {body}")
        return body["data"]["result"]

    def wait_for_samples(self, promql: str, deadline_seconds: float = 30.0) -> list[dict[str, Any]]:
        """Poll until ``promql`` returns a non-empty vector; raise with the log after the deadline."""
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            result = self.query(promql)
            if result:
                return result
            time.sleep(0.2)
        raise TimeoutError(f"no samples for {promql!r} within {deadline_seconds}s: {self.log()}")

    def wait_for_scrape_after(self, job: str, after: float, deadline_seconds: float = 30.0) -> None:
        """Wait until every target of ``job`` has been scraped at a time later than ``after`` (epoch s)."""
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            result = self.query(f'timestamp(up{{job="{job}"}})')
            if result and all(float(r["value"][1]) > after for r in result):
                return
            time.sleep(0.2)
        raise TimeoutError(f"job {job!r} was not scraped after {after} within {deadline_seconds}s")
