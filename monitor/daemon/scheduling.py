"""The daemon's scheduler: APScheduler's BackgroundScheduler, in memory, rebuilt from the config at
every start (a job store cannot be shared between processes, and its jobs are pickled).

One ``check:<model>`` job per model every ``check.every``, and one ``supervise`` job every
second. After a pause or a forward clock jump the scheduler runs a job once for all the runs it
missed (coalesce) and says nothing of the others: :class:`BacklogCounter` counts them, so a
backlog shows in ``modelhealth_scheduler_events_total{kind="coalesced"}`` and the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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

from monitor.config import ModelConfig
from monitor.daemon.backlog import BacklogCounter
from monitor.exporter import DaemonMetrics

log = logging.getLogger("modelhealthd")
SUPERVISE_SECONDS = 1.0
CHECK_THREADS = 4
_EVENT_KINDS = {
    EVENT_JOB_ERROR: "error",
    EVENT_JOB_MISSED: "missed",
    EVENT_JOB_MAX_INSTANCES: "max_instances",
}


def make_scheduler() -> BackgroundScheduler:
    return BackgroundScheduler(
        timezone="UTC",
        executors={"default": ThreadPoolExecutor(max_workers=CHECK_THREADS)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
    )


def check_job_id(model: str) -> str:
    return f"check:{model}"


class Schedule:
    """The daemon's jobs on ``scheduler``, with their events counted in ``metrics``."""

    def __init__(self, scheduler: BackgroundScheduler, metrics: DaemonMetrics):
        self.scheduler = scheduler
        self.metrics = metrics
        self.backlog = BacklogCounter()
        scheduler.add_listener(self._on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        scheduler.add_listener(self._on_submitted, EVENT_JOB_SUBMITTED | EVENT_JOB_MAX_INSTANCES)

    def check(self, model: ModelConfig, run: Callable[[str], Any], soon: bool = True) -> None:
        """(Re)schedule the model's check every ``check.every``; with ``soon``, the first run comes in a second."""
        self.backlog.track(check_job_id(model.name), model.check.every)
        self.scheduler.add_job(
            run,
            "interval",
            args=[model.name],
            seconds=model.check.every,
            id=check_job_id(model.name),
            replace_existing=True,
            next_run_time=datetime.now(UTC) + timedelta(seconds=1) if soon else None,
        )

    def unschedule_check(self, model: str) -> None:
        job = self.scheduler.get_job(check_job_id(model))
        if job is not None:
            job.remove()

    def supervise(self, tick: Callable[[], None]) -> None:
        self.backlog.track("supervise", SUPERVISE_SECONDS)
        self.scheduler.add_job(
            tick, "interval", seconds=SUPERVISE_SECONDS, id="supervise", replace_existing=True
        )

    def _on_event(self, event: JobExecutionEvent) -> None:
        self.metrics.scheduler_events.labels(_EVENT_KINDS.get(event.code, "other")).inc()

    def _on_submitted(self, event: JobSubmissionEvent) -> None:
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
