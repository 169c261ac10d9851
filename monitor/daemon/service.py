"""The daemon: scheduled checks, rules after every check, the job supervisor and the HTTP API.

It owns the state store and never imports torch or evidently: jobs and reports run in
worker processes. Its collaborators come from the composition root
(:func:`monitor.daemon.wiring.build_daemon`); this class starts and stops them, runs a check
with what follows it, and answers the HTTP API (:class:`monitor.http.operations.ApiOperations`)
and the main loop (:class:`monitor.daemon.lifecycle.Managed`). ``run_forever`` lets the main
thread handle signals.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from monitor.check.checker import CheckOutcome
from monitor.config import Config, ModelConfig
from monitor.daemon.drain import DrainReport, drain
from monitor.daemon.lifecycle import Lifecycle
from monitor.daemon.parts import DaemonParts
from monitor.daemon.reload import ReloadPlan, prepare_reload
from monitor.daemon.scheduling import Schedule
from monitor.measurements import Measurements
from monitor.memory import release_free_memory
from monitor.reports.drift_reports import ReportRequest
from monitor.state.records import PromotionRecord
from reoptimize.registry.registry_errors import RegistryError
from rules.decisions import Decision

log = logging.getLogger("modelhealthd")
HTTP_START_SECONDS = 15.0


def _nothing() -> None:
    return None


class Daemon:
    def __init__(self, parts: DaemonParts):
        self.parts = parts
        self.running = parts.running
        self.config_path = parts.config_path
        self.clock = parts.clock
        self.store = parts.store
        self.registry = parts.registry
        self.executor = parts.executor
        self.metrics = parts.metrics
        self.labels = parts.labels
        self.checker = parts.checker
        self.check_locks = parts.check_locks
        self.promoter = parts.promoter
        self.supervisor = parts.supervisor
        self.watch = parts.watch
        self.rules = parts.rules
        self.reports = parts.reports
        self.drift_reports = parts.drift_reports
        self.intake = parts.intake
        self.scheduler = parts.scheduler
        self.lock = parts.lock
        self.schedule = Schedule(self.scheduler, self.metrics)
        self.http_thread: threading.Thread | None = None
        self.http_server: Any = None
        self.stopping = threading.Event()
        self.last_tick_at: float | None = None
        self._reload_lock = threading.Lock()

    @property
    def config(self) -> Config:
        """The running config: a SIGHUP reload swaps it (see :mod:`monitor.running_config`)."""
        return self.running.config

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, serve_http: bool = True) -> None:
        self.lock.acquire()  # raises StoreLockedError when another daemon runs on this store
        self.promoter.reconcile()  # finishes or aborts promotion intents a crash left; logs each
        for model in self.config.models:
            self.metrics.known_model(model.name, model.check.every)
            self.metrics.set_version(model.name, self.production_version(model.name))
            self.schedule.check(model, self.run_check)
        self.schedule.supervise(self.tick)
        self.scheduler.start()
        if serve_http:
            self._start_http()
        log.info("modelhealthd started with %d model(s)", len(self.config.models), extra={"event": "started"})

    def _start_http(self) -> None:
        import uvicorn

        from monitor.http.api import create_api
        from monitor.http.hook_routes import hook_router
        from serving.server import KEEP_ALIVE_SECONDS

        hooks = hook_router(self.running, self.intake, self.metrics, self.clock)
        app = create_api(self, [hooks], self.config.api.max_body_bytes)
        api = self.config.api
        cfg = uvicorn.Config(
            app,
            host=api.host,
            port=api.port,
            log_level="warning",
            access_log=False,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,  # Prometheus scrapes this API too; see its comment
        )
        self.http_server = uvicorn.Server(cfg)
        self.http_thread = threading.Thread(target=self.http_server.run, name="http", daemon=True)
        self.http_thread.start()
        deadline = time.monotonic() + HTTP_START_SECONDS
        while not self.http_server.started and time.monotonic() < deadline and self.http_thread.is_alive():
            time.sleep(0.05)
        if not self.http_server.started:
            raise RuntimeError(f"the HTTP API could not listen on {api.listen}")

    @property
    def drain_grace(self) -> float:
        return self.config.jobs.drain_grace

    def drain(self, grace: float | None = None, on_wait: Callable[[], None] = _nothing) -> DrainReport:
        """Drain and stop (see :mod:`monitor.daemon.drain`); ``grace`` defaults to ``jobs.drain_grace``."""
        return drain(self, self.drain_grace if grace is None else grace, on_wait=on_wait)

    def stop(self, grace: float | None = None) -> DrainReport:
        return self.drain(grace)

    def run_forever(self) -> DrainReport:
        """The main thread under systemd: READY, watchdog, SIGHUP reload, SIGTERM drain."""
        lifecycle = Lifecycle(self)
        lifecycle.install_signal_handlers()
        return lifecycle.run()

    def reload(self) -> ReloadPlan:
        """Apply the config file again, all or nothing (see :mod:`monitor.daemon.reload`)."""
        with self._reload_lock:
            new, ruleset, plan = prepare_reload(self.config_path, self.config)
            self.running.swap(new, ruleset)
            for name in plan.removed:
                self.schedule.unschedule_check(name)
            for name in plan.added:
                self.metrics.known_model(name, new.model(name).check.every)
                self.metrics.set_version(name, self.production_version(name))
            for name in plan.rescheduled:
                self.metrics.check_interval.labels(name).set(new.model(name).check.every)
            for name in plan.added + plan.rescheduled:
                self.schedule.check(new.model(name), self.run_check, soon=not self.stopping.is_set())
        return plan

    def jobs_running(self) -> int:
        return len(self.executor.running())

    def status_line(self) -> str:
        return f"watching {len(self.config.models)} model(s); {self.jobs_running()} job(s) running"

    # -- work ------------------------------------------------------------------------------
    def run_check(self, model_name: str) -> Measurements:
        model = self.config.model(model_name)
        with self.check_locks(model_name):
            started = time.perf_counter()
            now = self.clock()
            try:
                outcome = self.checker.check(model, now)
            except Exception as exc:
                self.metrics.check_failures.labels(model_name, "check_error").inc()
                log.exception("check of %s failed", model_name, extra={"model": model_name})
                self.store.checks.record(model_name, None, now, {}, {}, error=f"{type(exc).__name__}: {exc}")
                m = Measurements(model=model_name, version=None, at=now, values={}, notes=(str(exc),))
                self.rules.after_check(model, m)
                return m
            self._after_check(model, outcome, time.perf_counter() - started)
            release_free_memory()
            return outcome.measurements

    def _after_check(self, model: ModelConfig, outcome: CheckOutcome, elapsed: float) -> None:
        m = outcome.measurements
        self.metrics.check_duration.labels(model.name).observe(elapsed)
        self.metrics.source_up.labels(model.name, outcome.serving.source).set(1 if outcome.serving.up else 0)
        if not outcome.serving.up:
            self.metrics.check_failures.labels(model.name, "source_down").inc()
            log.warning("serving source: %s", outcome.serving.reason, extra={"model": model.name})
        self.metrics.last_success.labels(model.name).set(m.at)
        self.metrics.check_interval.labels(model.name).set(model.check.every)  # current after a reload
        self.metrics.record_measurements(m)
        details = dict(outcome.details, features=[f.__dict__ for f in m.features], notes=list(m.notes))
        report = self.drift_reports.after_check(model, outcome)
        if report:
            details["report"] = report
        self.store.checks.record(model.name, m.version, m.at, m.values, details)
        self.watch.after_check(model, m)
        self.rules.after_check(model, m)
        self.promoter.retry_reload(model.name)

    def tick(self) -> None:
        self.supervisor.tick()
        self.reports.reap()
        self.intake.drain()
        self.last_tick_at = time.monotonic()

    # -- operations for the API ------------------------------------------------------------
    def trigger(self, model: str, pipeline: str, params: dict[str, Any], reason: str) -> dict[str, Any]:
        return self.rules.manual(self.config.model(model), pipeline, params, reason)

    def cancel_job(self, job_id: str) -> bool:
        return self.supervisor.cancel(job_id)

    def promote(self, model: str, version: str, reason: str) -> PromotionRecord:
        return self.promoter.promote(model, version, reason=reason)

    def rollback(self, model: str, reason: str) -> PromotionRecord | None:
        return self.promoter.rollback(model, reason=reason)

    def breaker_status(self, model: str) -> dict[str, Any]:
        return {
            "model": model,
            "open": self.rules.breaker_open(model),
            "consecutive_failures": self.rules.context.consecutive_failures(model),
            "threshold": self.rules.breaker.threshold,
        }

    def reset_breaker(self, model: str, by: str, reason: str) -> tuple[Decision, bool]:
        decision = self.rules.reset_breaker(model, by=by, reason=reason)
        return decision, self.rules.breaker_open(model)

    def request_report(self, model: str) -> ReportRequest:
        return self.drift_reports.request(model)

    def metrics_text(self) -> bytes:
        return self.metrics.render()

    def api_token(self) -> str | None:
        return self.config.api.resolved_token()

    def readiness_problems(self) -> list[str]:
        problems = []
        if not self.scheduler.running:
            problems.append("scheduler is not running")
        return problems

    def production_version(self, name: str) -> str | None:
        """The production pointer, or None (logged) when it is broken: a bad pointer must not stop
        the daemon or its API; the model's checks report it, and a promotion repairs it."""
        try:
            return self.registry.production(name)
        except (RegistryError, OSError) as exc:
            log.error("%s", exc, extra={"model": name})
            return None

    def model_summary(self, name: str, detail: bool = False) -> dict[str, Any]:
        latest = self.store.checks.latest(name)
        summary: dict[str, Any] = {
            "model": name,
            "production_version": self.production_version(name),
            "versions": self.registry.versions(name),
            "last_check": latest.to_json() if latest else None,
            "rules": {r: s.get("state") for (r, _), s in self.store.rule_states.load(name).items()},
            "active_jobs": [j.id for j in self.store.jobs.active(name)],
        }
        if detail:
            summary["promotions"] = [p.to_json() for p in self.store.promotions.list(name, 20)]
            summary["jobs"] = [j.to_json() for j in self.store.jobs.list(name, limit=20)]
        return summary
