"""A real Prometheus server (Debian's ``/usr/bin/prometheus``) on a free loopback port, for tests.

    with PrometheusProcess(tmp_path, {"server": ["127.0.0.1:8080"]}) as prom:
        prom.wait_for_samples('up{job="server"} == 1', deadline_seconds=20)
        prom.query('sum(rate(http_requests_total[1m]))')

Each scrape job scrapes its targets every ``scrape_interval`` (1 s by default). Storage lives in
a temporary directory; the process is stopped (and killed after a grace period) on exit.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support.binaries import require
from tests.support.prometheus_process import PrometheusServer, free_port

__all__ = ["PrometheusProcess", "free_port", "require_prometheus"]


def require_prometheus() -> None:
    """Fail the calling test, naming ``make system-deps``, when Prometheus (and its promtool) is missing."""
    require("prometheus")
    require("promtool")


class PrometheusProcess(PrometheusServer):
    """One Prometheus process scraping ``jobs`` (job name -> ``host:port`` targets)."""

    def __init__(
        self,
        workdir: Path,
        jobs: Mapping[str, Sequence[str]],
        scrape_interval: str = "1s",
        metrics_path: str = "/metrics",
    ):
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
        super().__init__(workdir, config)

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
