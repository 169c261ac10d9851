"""When a drift report is rendered: after a check that found the dataset drifted, or on request.

A report on drift is started at most once per the renderer's interval per model, unless the
model's ``check.report`` is ``on_request``. A report on request (``POST
/api/v1/models/{model}/report``) renders the model's check window ending now beside the
serving version's verified reference, with the drift impact of the model's latest check of
that version shown above it. Rendering takes seconds in its own process; the answer names the
file the report will have under ``/reports/{model}/``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.check.check_locks import CheckLocks
from monitor.check.checker import Checker, CheckOutcome, window_frame_columns
from monitor.config import ModelConfig
from monitor.reports.renderer import ReportRenderer
from monitor.running_config import RunningConfig
from monitor.state.store import StateStore
from reoptimize.registry.registry import Registry

log = logging.getLogger("modelhealthd.reports")


@dataclass(frozen=True)
class ReportRequest:
    status: int  # HTTP status for the answer: 202 started, 409 cannot start
    body: dict[str, Any]


def report_url(model: str, path: Path) -> str:
    return f"/reports/{model}/{path.name}"


class DriftReports:
    def __init__(
        self,
        running: RunningConfig,
        renderer: ReportRenderer,
        checker: Checker,
        registry: Registry,
        store: StateStore,
        locks: CheckLocks,
        clock: Callable[[], float],
    ):
        self.running = running
        self.renderer = renderer
        self.checker = checker
        self.registry = registry
        self.store = store
        self.locks = locks
        self.clock = clock

    def after_check(self, model: ModelConfig, outcome: CheckOutcome) -> str | None:
        """Start a report of a drifted check's window; its URL, or None when none was started."""
        drift, window, m = outcome.drift, outcome.window, outcome.measurements
        if drift is None or window is None or not drift.dataset_drift or m.version is None:
            return None
        if model.check.report == "on_request" or not self.renderer.due(model.name, m.at):
            return None
        try:
            reference = self.registry.read_bytes(model.name, m.version, "reference.parquet")
            extra = {
                "model": model.name,
                "version": m.version,
                "drift_impact": outcome.details.get("drift_impact"),
            }
            path = self.renderer.render(
                model.name, m.version, reference, window_frame_columns(window), m.at, extra
            )
        except Exception:
            log.exception("could not start a drift report", extra={"model": model.name})
            return None
        return report_url(model.name, path)

    def request(self, model_name: str) -> ReportRequest:
        """Start rendering a drift report of ``model_name``'s current window."""
        model = self.running.config.model(model_name)
        if model_name in self.renderer.running:
            running = self.renderer.running[model_name].out
            return ReportRequest(
                409, {"error": "a report is already rendering", "report": report_url(model_name, running)}
            )
        with self.locks(model_name):
            view = self.checker.view(model)
            if view is None:
                return ReportRequest(
                    409, {"error": f"{model_name} has no production version in the registry"}
                )
            now = self.clock()
            window = view.reader.window(now - model.check.window, now)
            if window.rows == 0:
                return ReportRequest(
                    409, {"error": f"no predictions of {model_name} in the last {model.check.window:g}s"}
                )
            latest = self.store.checks.latest(model_name)
            impact = latest.details.get("drift_impact") if latest and latest.version == view.version else None
            reference = self.registry.read_bytes(model_name, view.version, "reference.parquet")
            extra = {"model": model_name, "version": view.version, "drift_impact": impact}
            path = self.renderer.render(
                model_name, view.version, reference, window_frame_columns(window), now, extra
            )
        return ReportRequest(202, {"model": model_name, "version": view.version, "rows": window.rows,
                                   "status": "rendering", "report": report_url(model_name, path)})  # fmt: skip
