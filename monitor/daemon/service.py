"""The daemon: scheduled checks, rules after every check, the job supervisor and the HTTP API.

It owns the state store and never imports torch or evidently: jobs and reports run in
worker processes. ``run_forever`` lets the main thread handle signals.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from monitor.alerts.intake import AlertIntake
from monitor.check.checker import Checker, CheckOutcome, window_frame_columns
from monitor.config import Config, ModelConfig
from monitor.daemon.backlog import BacklogCounter
from monitor.daemon.drain import DrainReport, drain
from monitor.daemon.lifecycle import Lifecycle
from monitor.decide.rule_runner import RuleRunner, load_ruleset
from monitor.exporter import DaemonMetrics
from monitor.jobs.supervisor import JobSupervisor
from monitor.measurements import Measurements
from monitor.memory import release_free_memory
from monitor.promote.promoter import Promoter
from monitor.promote.promotion_watch import PromotionWatch
from monitor.reports.renderer import ReportRenderer
from monitor.sources.label_book import LabelBook
from monitor.sources.prometheus_source import PrometheusSource
from monitor.sources.scrape_source import ScrapeSource
from monitor.sources.serving_source import ServingSource
from monitor.state.daemon_lock import DaemonLock
from monitor.state.store import StateStore
from reoptimize.executors.local_executor import LocalExecutor
from reoptimize.registry.file_registry import FileRegistry, RegistryError
from rules.loader import RuleSet

log = logging.getLogger("modelhealthd")
SUPERVISE_SECONDS = 1.0


def serving_source(config: Config) -> ServingSource:
    return PrometheusSource(config.prometheus) if config.prometheus else ScrapeSource()


class Daemon:
    def __init__(self, config: Config, config_path: Path, clock: Callable[[], float] = time.time):
        self.config = config
        self.config_path = Path(config_path).resolve()
        self.clock = clock
        self.store = StateStore.open(config.state)
        self.registry = FileRegistry(config.registry)
        self.metrics = DaemonMetrics()
        self.labels = LabelBook(self.store)
        self.checker = Checker(
            self.registry,
            serving_source(config),
            self.labels.for_model,
            profile_cache=Path(config.registry).parent / "cache" / "profiles",
            models=lambda: self.config.models,
        )
        running = lambda: self.config  # noqa: E731  (a SIGHUP reload swaps self.config)
        self.promoter = Promoter(running, self.registry, self.store, self.metrics, clock)
        state_dir = Path(config.registry).parent
        self.executor = LocalExecutor(state_dir / "jobs", timeout_seconds=config.jobs.timeout)
        self.supervisor = JobSupervisor(
            running, self.config_path, self.store, self.executor, self.promoter, self.metrics, clock
        )
        self.watch = PromotionWatch(running, self.store, self.promoter, clock)
        self.rules = self.make_rule_runner(config, load_ruleset(config))
        self.reports = ReportRenderer(config.reports_dir, self.metrics)
        self.scheduler = BackgroundScheduler(
            timezone="UTC",
            executors={"default": ThreadPoolExecutor(max_workers=4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
        )
        self.scheduler.add_listener(
            self._on_scheduler_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES
        )
        self.backlog = BacklogCounter()
        self.scheduler.add_listener(self._on_submitted, EVENT_JOB_SUBMITTED | EVENT_JOB_MAX_INSTANCES)
        self.check_locks = {m.name: threading.Lock() for m in config.models}
        self.http_thread: threading.Thread | None = None
        self.http_server = None
        self.stopping = threading.Event()
        self.hook_routers: list[Any] = []
        self.intake = AlertIntake(self)
        from monitor.http.hook_routes import hook_router  # FastAPI, like the API itself, loads only here

        self.hook_routers.append(hook_router(self, self.intake))
        self.lock = DaemonLock(config.state)
        self.last_tick_at: float | None = None

    def make_rule_runner(self, config: Config, ruleset: RuleSet) -> RuleRunner:
        """The rule runner for ``config``; a SIGHUP reload builds a new one the same way."""
        return RuleRunner(
            ruleset, config, self.store, self.registry, self.metrics, self.clock, watching=self.watch.watching
        )

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, serve_http: bool = True) -> None:
        self.lock.acquire()  # raises StoreLockedError when another daemon runs on this store
        self.promoter.reconcile()  # finishes or aborts promotion intents a crash left; logs each
        for model in self.config.models:
            self.metrics.known_model(model.name, model.check.every)
            self.metrics.set_version(model.name, self.production_version(model.name))
            self.schedule_check(model)
        self.backlog.track("supervise", SUPERVISE_SECONDS)
        self.scheduler.add_job(
            self.tick, "interval", seconds=SUPERVISE_SECONDS, id="supervise", replace_existing=True
        )
        self.scheduler.start()
        if serve_http:
            self._start_http()
        log.info("modelhealthd started with %d model(s)", len(self.config.models), extra={"event": "started"})

    def schedule_check(self, model: ModelConfig) -> None:
        """(Re)schedule the model's check every ``check.every``; the first run comes soon."""
        self.backlog.track(f"check:{model.name}", model.check.every)
        self.scheduler.add_job(
            self.run_check,
            "interval",
            args=[model.name],
            seconds=model.check.every,
            id=f"check:{model.name}",
            replace_existing=True,
            next_run_time=None if self.stopping.is_set() else _soon(),
        )

    def _start_http(self) -> None:
        import uvicorn

        from monitor.http.api import create_api
        from serving.server import KEEP_ALIVE_SECONDS

        app = create_api(self)
        cfg = uvicorn.Config(
            app,
            host=self.config.api.host,
            port=self.config.api.port,
            log_level="warning",
            access_log=False,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,  # Prometheus scrapes this API too; see its comment
        )
        self.http_server = uvicorn.Server(cfg)
        self.http_thread = threading.Thread(target=self.http_server.run, name="http", daemon=True)
        self.http_thread.start()
        deadline = time.monotonic() + 15
        while not self.http_server.started and time.monotonic() < deadline and self.http_thread.is_alive():
            time.sleep(0.05)
        if not self.http_server.started:
            raise RuntimeError(f"the HTTP API could not listen on {self.config.api.listen}")

    def stop(self, grace: float | None = None) -> DrainReport:
        """Drain and stop (see :mod:`monitor.daemon.drain`); ``grace`` defaults to ``jobs.drain_grace``."""
        return drain(self, self.config.jobs.drain_grace if grace is None else grace)

    def run_forever(self) -> DrainReport:
        """The main thread under systemd: READY, watchdog, SIGHUP reload, SIGTERM drain."""
        lifecycle = Lifecycle(self)
        lifecycle.install_signal_handlers()
        return lifecycle.run()

    # -- work ------------------------------------------------------------------------------
    def run_check(self, model_name: str) -> Measurements:
        model = self.config.model(model_name)
        with self.check_locks[model_name]:
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
        report = self._maybe_report(model, outcome)
        if report:
            details["report"] = report
        self.store.checks.record(model.name, m.version, m.at, m.values, details)
        self.watch.after_check(model, m)
        self.rules.after_check(model, m)
        self.promoter.retry_reload(model.name)

    def _maybe_report(self, model: ModelConfig, outcome: CheckOutcome) -> str | None:
        drift, window, m = outcome.drift, outcome.window, outcome.measurements
        if drift is None or window is None or not drift.dataset_drift or m.version is None:
            return None
        if model.check.report == "on_request" or not self.reports.due(model.name, m.at):
            return None
        try:
            reference = self.registry.read_bytes(model.name, m.version, "reference.parquet")
            extra = {
                "model": model.name,
                "version": m.version,
                "drift_impact": outcome.details.get("drift_impact"),
            }
            path = self.reports.render(
                model.name, m.version, reference, window_frame_columns(window), m.at, extra
            )
        except Exception:
            log.exception("could not start a drift report", extra={"model": model.name})
            return None
        return f"/reports/{model.name}/{path.name}"

    def tick(self) -> None:
        self.supervisor.tick()
        self.reports.reap()
        self.intake.drain()
        self.last_tick_at = time.monotonic()

    def trigger(self, model: str, pipeline: str, params: dict[str, Any], reason: str) -> dict[str, Any]:
        return self.rules.manual(self.config.model(model), pipeline, params, reason)

    # -- views for the API -----------------------------------------------------------------
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

    def _on_scheduler_event(self, event: JobExecutionEvent) -> None:
        kind = {
            EVENT_JOB_ERROR: "error",
            EVENT_JOB_MISSED: "missed",
            EVENT_JOB_MAX_INSTANCES: "max_instances",
        }
        self.metrics.scheduler_events.labels(kind.get(event.code, "other")).inc()

    def _on_submitted(self, event: JobSubmissionEvent) -> None:
        # After a pause or a forward clock jump the scheduler runs a job once for all the runs it
        # missed (coalesce) and says nothing of the others: count them, so a backlog is visible.
        for run_time in event.scheduled_run_times:
            skipped = self.backlog.submitted(event.job_id, run_time)
            if skipped:
                self.metrics.scheduler_events.labels("coalesced").inc(skipped)
                log.warning(
                    "%s ran once for %d late run(s): the daemon was paused or the clock jumped",
                    event.job_id,
                    skipped + 1,
                    extra={"event": "scheduler_backlog"},
                )


def _soon():  # noqa: ANN202
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) + timedelta(seconds=1)
