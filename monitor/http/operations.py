"""What the HTTP API needs from the daemon: the narrow protocol :func:`monitor.http.api.create_api` is built on.

The daemon (:class:`monitor.daemon.service.Daemon`) implements it; a test may hand the API
anything else that does.
"""

from __future__ import annotations

from typing import Any, Protocol

from monitor.config import Config
from monitor.measurements import Measurements
from monitor.reports.drift_reports import ReportRequest
from monitor.state.records import PromotionRecord
from monitor.state.store import StateStore
from reoptimize.registry.registry import Registry
from rules.decisions import Decision


class ApiOperations(Protocol):
    @property
    def config(self) -> Config:
        """The running config (read at every request, so a reload applies to the next one)."""

    @property
    def store(self) -> StateStore: ...

    @property
    def registry(self) -> Registry: ...

    def api_token(self) -> str | None: ...

    def readiness_problems(self) -> list[str]: ...

    def metrics_text(self) -> bytes: ...

    def model_summary(self, name: str, detail: bool = False) -> dict[str, Any]: ...

    def run_check(self, model_name: str) -> Measurements: ...

    def trigger(self, model: str, pipeline: str, params: dict[str, Any], reason: str) -> dict[str, Any]: ...

    def cancel_job(self, job_id: str) -> bool: ...

    def promote(self, model: str, version: str, reason: str) -> PromotionRecord: ...

    def rollback(self, model: str, reason: str) -> PromotionRecord | None: ...

    def breaker_status(self, model: str) -> dict[str, Any]: ...

    def reset_breaker(self, model: str, by: str, reason: str) -> tuple[Decision, bool]:
        """Close the model's circuit breaker; the decision logged and whether it is open now."""

    def request_report(self, model: str) -> ReportRequest: ...
