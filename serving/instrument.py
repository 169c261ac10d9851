"""Instrumentation that lets any Python model server meet the modelhealthd server contract.

One :class:`ServerInstrumentation` per served model owns the Prometheus metrics and the
prediction log. A server wraps each prediction request in :meth:`ServerInstrumentation.request`,
logs its rows with :meth:`ServerInstrumentation.log_predictions`, and serves
:meth:`ServerInstrumentation.render_metrics` at ``/metrics``::

    instr = ServerInstrumentation("digits", prediction_log_dir="/var/lib/preds")
    instr.set_version("3")
    with instr.request() as req:
        preds = model.predict(rows)
        req.rows = len(rows)
    instr.log_predictions(ids, rows, preds, proba, version="3")
    body, content_type = instr.render_metrics()

Metrics (label ``model`` on every series):

* ``modelserver_request_duration_seconds`` histogram, 0.5 ms .. 10 s;
* ``modelserver_requests_total`` and ``modelserver_predictions_total`` (rows) counters;
* ``modelserver_errors_total{kind}``, with 0 exported for every kind in :data:`ERROR_KINDS`;
* ``modelserver_model_info{version}`` = 1 for the version being served, one series at a time;
* ``modelserver_reloads_total{outcome}``, 0 exported for every outcome in :data:`RELOAD_OUTCOMES`;
* the standard ``process_*`` metrics.

``_created`` series are disabled process-wide (``prometheus_client`` has no per-registry switch),
because Prometheus and ``promtool`` expect none from this exporter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from serving.prediction_log_writer import PredictionEntry, PredictionLogWriter

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ERROR_KINDS = ("bad_request", "model_error", "not_ready", "log_error", "internal")
RELOAD_OUTCOMES = ("success", "failure", "unauthorized")


class RequestTimer:
    """Times one request. Set ``rows`` on success; call :meth:`error` to count a failure.

    An exception that leaves the ``with`` block without an error recorded counts as ``internal``.
    """

    def __init__(self, owner: ServerInstrumentation):
        self._owner = owner
        self._start = 0.0
        self.rows = 0
        self.error_kind: str | None = None

    def error(self, kind: str) -> None:
        self.error_kind = kind

    def __enter__(self) -> RequestTimer:
        self._start = self._owner.perf_counter()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None and self.error_kind is None:
            self.error_kind = "internal"
        self._owner.finish_request(self._owner.perf_counter() - self._start, self.rows, self.error_kind)


class ServerInstrumentation:
    """The metrics and prediction log of one served model, on its own registry."""

    def __init__(
        self,
        model: str,
        prediction_log_dir: str | Path | None = None,
        registry: CollectorRegistry | None = None,
        *,
        clock: Callable[[], float] = time.time,
        perf_counter: Callable[[], float] = time.perf_counter,
        process_metrics: bool = True,
    ):
        disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated
        self.model = model
        self.registry = registry if registry is not None else CollectorRegistry()
        self.perf_counter = perf_counter
        self._version_lock = threading.Lock()
        self._version: str | None = None
        self.log = PredictionLogWriter(prediction_log_dir, model, clock=clock) if prediction_log_dir else None
        reg = self.registry
        self.duration = Histogram(
            "modelserver_request_duration_seconds",
            "Time to answer one prediction request, from receipt to response.",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.requests = Counter(
            "modelserver_requests", "Prediction requests received.", ["model"], registry=reg
        )
        self.predictions = Counter(
            "modelserver_predictions", "Rows predicted (one per input row).", ["model"], registry=reg
        )
        self.errors = Counter(
            "modelserver_errors", "Failed prediction requests by kind.", ["model", "kind"], registry=reg
        )
        self.model_info = Gauge(
            "modelserver_model_info",
            "The model version being served (value 1).",
            ["model", "version"],
            registry=reg,
        )
        self.reloads = Counter(
            "modelserver_reloads", "Reload attempts by outcome.", ["model", "outcome"], registry=reg
        )
        self.duration.labels(model)
        self.requests.labels(model)
        self.predictions.labels(model)
        for kind in ERROR_KINDS:
            self.errors.labels(model, kind)
        for outcome in RELOAD_OUTCOMES:
            self.reloads.labels(model, outcome)
        if process_metrics:
            ProcessCollector(registry=reg)

    # -- requests ------------------------------------------------------------------------
    def request(self) -> RequestTimer:
        """A context manager that times one prediction request and counts it."""
        return RequestTimer(self)

    def finish_request(self, seconds: float, rows: int, error_kind: str | None) -> None:
        """Record a finished request (what :class:`RequestTimer` calls on exit)."""
        self.duration.labels(self.model).observe(max(seconds, 0.0))
        self.requests.labels(self.model).inc()
        if error_kind is not None:
            self.errors.labels(self.model, error_kind).inc()
        elif rows:
            self.predictions.labels(self.model).inc(rows)

    def count_error(self, kind: str) -> None:
        """Count an error outside a timed request (e.g. a log write that failed after answering)."""
        self.errors.labels(self.model, kind).inc()

    # -- version and reloads -------------------------------------------------------------
    @property
    def version(self) -> str | None:
        return self._version

    def set_version(self, version: str) -> None:
        """Make ``version`` the one ``modelserver_model_info`` reports, removing the previous series."""
        with self._version_lock:
            if self._version is not None and self._version != version:
                self.model_info.remove(self.model, self._version)
            self.model_info.labels(self.model, version).set(1)
            self._version = version

    def count_reload(self, outcome: str) -> None:
        self.reloads.labels(self.model, outcome).inc()

    # -- prediction log ------------------------------------------------------------------
    def log_predictions(
        self,
        ids: Sequence[str],
        rows: Sequence[Mapping[str, float]],
        predictions: Sequence[Any],
        proba: Sequence[Sequence[float]] | None,
        version: str,
    ) -> Path | None:
        """Append one record per row to the prediction log (a no-op when no log directory is set)."""
        if self.log is None:
            return None
        if not (len(ids) == len(rows) == len(predictions)) or (proba is not None and len(proba) != len(rows)):
            raise ValueError(
                f"log_predictions: {len(ids)} ids, {len(rows)} rows, {len(predictions)} predictions"
                f"{'' if proba is None else f', {len(proba)} probability rows'}; expected equal lengths"
            )
        entries = [
            PredictionEntry(
                request_id=str(ids[i]),
                version=version,
                features=rows[i],
                prediction=predictions[i],
                proba=None if proba is None else proba[i],
            )
            for i in range(len(rows))
        ]
        return self.log.write(entries)

    # -- exposition ----------------------------------------------------------------------
    def render_metrics(self) -> tuple[bytes, str]:
        """The ``/metrics`` body in the Prometheus text format, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def close(self) -> None:
        if self.log is not None:
            self.log.close()
