"""Evidently's drift report on request: ``POST /api/v1/models/{model}/report``.

The current window (the model's check window ending now) is written beside the serving
version's verified reference and handed to the report worker, like the reports rendered when
a check finds drift. The drift impact of the model's latest check of that version is shown
above the report. Rendering takes seconds in its own process; the answer names the file the
report will have under ``/reports/{model}/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.check.checker import window_frame_columns


@dataclass(frozen=True)
class ReportRequest:
    status: int  # HTTP status for the answer: 202 started, 409 cannot start
    body: dict[str, Any]


def request_report(daemon: Any, model_name: str) -> ReportRequest:
    """Start rendering a drift report of ``model_name``'s current window (``daemon``: monitor.daemon.service.Daemon)."""
    model = daemon.config.model(model_name)
    if model_name in daemon.reports.running:
        running = daemon.reports.running[model_name].out
        return ReportRequest(
            409, {"error": "a report is already rendering", "report": _url(model_name, running)}
        )
    with daemon.check_locks[model_name]:
        view = daemon.checker.view(model)
        if view is None:
            return ReportRequest(409, {"error": f"{model_name} has no production version in the registry"})
        now = daemon.clock()
        window = view.reader.window(now - model.check.window, now)
        if window.rows == 0:
            return ReportRequest(
                409, {"error": f"no predictions of {model_name} in the last {model.check.window:g}s"}
            )
        latest = daemon.store.checks.latest(model_name)
        impact = latest.details.get("drift_impact") if latest and latest.version == view.version else None
        reference = daemon.registry.read_bytes(model_name, view.version, "reference.parquet")
        extra = {"model": model_name, "version": view.version, "drift_impact": impact}
        path = daemon.reports.render(
            model_name, view.version, reference, window_frame_columns(window), now, extra
        )
    return ReportRequest(202, {"model": model_name, "version": view.version, "rows": window.rows,
                               "status": "rendering", "report": _url(model_name, path)})  # fmt: skip


def _url(model: str, path: Any) -> str:
    return f"/reports/{model}/{path.name}"
