"""SIGTERM: drain the daemon so that a stop never leaves a job or a promotion half done.

Order matters:

1. Stop accepting work: the HTTP API closes (in-flight requests, such as a manual
   promotion, finish first), check jobs leave the scheduler, and the supervisor starts no
   queued job.
2. Running jobs get ``jobs.drain_grace`` to finish. The supervisor keeps ticking meanwhile,
   so a job that finishes is recorded, and a candidate its gate passed is promoted.
3. The scheduler shuts down and waits for a tick in progress, so a promotion in flight
   completes (intent, pointer switch, done, reload hook) before anything closes.
4. Workers still running are stopped and their jobs recorded as cancelled, with the reason.
5. A last supervisor pass writes their decision-log entries; the store closes and the lock
   on it is released.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from apscheduler.schedulers.base import BaseScheduler

from monitor.jobs.supervisor import JobSupervisor
from monitor.reports.renderer import ReportRenderer
from monitor.state.daemon_lock import DaemonLock
from monitor.state.store import StateStore
from reoptimize.executors.executor import Executor

log = logging.getLogger("modelhealthd.lifecycle")
POLL_SECONDS = 0.2
WORKER_STOP_SECONDS = 5.0  # SIGTERM to SIGKILL for workers still running after the grace
HTTP_STOP_SECONDS = 30.0


@dataclass(frozen=True)
class DrainReport:
    finished: tuple[str, ...]  # jobs that ended by themselves during the grace period
    cancelled: tuple[str, ...]  # jobs cancelled because the grace period ran out
    left_queued: int
    seconds: float


class Drainable(Protocol):
    """What a drain stops, in order."""

    stopping: threading.Event
    http_server: Any  # uvicorn.Server, or None when the API was not started
    http_thread: threading.Thread | None
    scheduler: BaseScheduler
    supervisor: JobSupervisor
    executor: Executor
    reports: ReportRenderer
    store: StateStore
    lock: DaemonLock
    clock: Callable[[], float]


def drain(daemon: Drainable, grace: float, on_wait: Callable[[], None] = lambda: None) -> DrainReport:
    """Drain and stop ``daemon``; ``on_wait`` runs while it waits for jobs."""
    started = time.monotonic()
    daemon.stopping.set()
    daemon.supervisor.draining = True
    running_at_start = set(daemon.executor.running())
    log.info(
        "draining: %d job(s) running, grace %gs",
        len(running_at_start),
        grace,
        extra={"event": "drain"},
    )
    _stop_http(daemon)
    for job in daemon.scheduler.get_jobs():
        if job.id.startswith("check:"):
            job.remove()
    deadline = started + grace
    while daemon.executor.running() and time.monotonic() < deadline:
        if not daemon.scheduler.running:  # never started: nobody else collects finished workers
            daemon.supervisor.tick()
        on_wait()
        time.sleep(POLL_SECONDS)
    if daemon.scheduler.running:
        daemon.scheduler.shutdown(wait=True)  # waits for a tick in progress, and a promotion in it
    cancelled = _cancel_leftovers(daemon, grace)
    daemon.supervisor.tick()  # records decisions and metrics for every job that just ended
    daemon.reports.wait(min(grace, 30.0))
    left_queued = sum(1 for j in daemon.store.jobs.active() if j.state == "queued")
    finished = tuple(sorted(running_at_start - set(cancelled)))
    daemon.store.close()
    daemon.lock.release()
    report = DrainReport(finished, cancelled, left_queued, time.monotonic() - started)
    log.info(
        "modelhealthd stopped: %d job(s) finished while draining, %d cancelled, %d left queued",
        len(report.finished),
        len(report.cancelled),
        report.left_queued,
        extra={"event": "stopped"},
    )
    return report


def _stop_http(daemon: Drainable) -> None:
    server, thread = daemon.http_server, daemon.http_thread
    if server is None:
        return
    server.should_exit = True
    if thread is not None:
        thread.join(HTTP_STOP_SECONDS)
        if thread.is_alive():
            log.warning("the HTTP API did not stop within %gs", HTTP_STOP_SECONDS, extra={"event": "drain"})


def _cancel_leftovers(daemon: Drainable, grace: float) -> tuple[str, ...]:
    leftovers = sorted(daemon.executor.running())
    if not leftovers:
        return ()
    daemon.executor.shutdown(WORKER_STOP_SECONDS)
    now = daemon.clock()
    cancelled = []
    for job_id in leftovers:
        job = daemon.store.jobs.get(job_id)
        reason = f"cancelled at shutdown: still running after the drain grace of {grace:g}s"
        if job is None or not daemon.store.jobs.finish(job_id, "cancelled", now, error=reason):
            continue  # it recorded its own end in the meantime
        cancelled.append(job_id)
        log.warning(
            "job %s %s",
            job_id,
            reason,
            extra={"model": job.model, "job": job_id, "event": "job_cancelled"},
        )
    return tuple(cancelled)
