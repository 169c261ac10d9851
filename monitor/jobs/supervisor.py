"""Runs queued jobs on the executor and acts on finished ones, level-triggered and idempotent.

Each tick: collect exited workers, fail jobs whose worker is gone or silent, start queued
jobs up to the concurrency limit, then handle every finished job (decision log, metrics, and
promotion of a candidate the gate passed). A job is marked handled only after all of that, so a
crash in between leaves it for the next tick or start to finish; each part checks the state
store first, so none happens twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from monitor.config import Config
from monitor.exporter import DaemonMetrics
from monitor.jobs.job_settings import UNRECORDED_PREFIX, JobSettings
from monitor.promote.promoter import Promoter, PromotionError
from monitor.running_config import RunningConfig
from monitor.state.records import JobRecord
from monitor.state.store import StateStore
from reoptimize import failpoints
from reoptimize.executors.executor import Executor, ExecutorError, JobExit, JobLimits
from reoptimize.job.job_spec import JobError, JobResult

log = logging.getLogger("modelhealthd.jobs")
RETRY_SECONDS = (1.0, 2.0, 5.0, 15.0, 60.0)  # after a transient failure to handle a job


def unrecorded_error(log_tail: str) -> str | None:
    """The error a worker printed because it could not write it to the state store, if any."""
    lines = [line for line in log_tail.splitlines() if line.startswith(UNRECORDED_PREFIX)]
    return lines[-1].removeprefix(UNRECORDED_PREFIX) if lines else None


def last_output_line(log_tail: str) -> str | None:
    lines = [line.strip() for line in log_tail.splitlines() if line.strip()]
    return lines[-1][:300] if lines else None


def job_result(job: JobRecord) -> JobResult | None:
    """The typed result of a succeeded job, or None (a failed job, or a result that does not parse)."""
    if job.state != "succeeded" or not job.result:
        return None
    try:
        return JobResult.from_json(job.result)
    except JobError as exc:
        log.warning("%s", exc, extra={"model": job.model, "job": job.id})
        return None


class JobSupervisor:
    def __init__(
        self,
        running: RunningConfig,
        store: StateStore,
        executor: Executor,
        promoter: Promoter,
        metrics: DaemonMetrics,
        clock: Callable[[], float],
    ):
        self.running = running
        self.store = store
        self.executor = executor
        self.promoter = promoter
        self.metrics = metrics
        self.clock = clock
        self.draining = False
        self._retry: dict[str, tuple[int, float]] = {}  # job id -> (failures, not before)
        self._exited: list[JobExit] = []

    @property
    def config(self) -> Config:
        """The running config: a SIGHUP reload swaps it and this reads the new one."""
        return self.running.config

    def limits(self) -> JobLimits:
        return JobLimits(timeout_seconds=self.config.jobs.timeout)

    def tick(self) -> None:
        now = self.clock()
        self._stop_cancelled()
        self._collect(now)
        self._fail_silent(now)
        if not self.draining:
            self._start_queued(now)
        for job in self.store.jobs.unhandled_finished():
            self.handle_finished(job)
        self._export_running()

    def _collect(self, now: float) -> None:
        # Exits not yet written to the store (it refused a write) are kept and tried again.
        self._exited.extend(self.executor.poll())
        while self._exited:
            finished = self._exited[0]
            job = self.store.jobs.get(finished.job_id)
            if job is not None and job.active:
                state, error = self._exit_outcome(finished)
                self.store.jobs.finish(job.id, state, now, error=error)
            self._exited.pop(0)

    def _exit_outcome(self, finished: JobExit) -> tuple[str, str]:
        if finished.timed_out:
            return "timed_out", f"killed after the job timeout of {self.config.jobs.timeout:g}s"
        if finished.cancelled:
            return "cancelled", "cancelled by request"
        if finished.exit_code == 0:
            return "failed", "worker exited without recording a result"
        tail = self.executor.log_tail(finished.job_id)
        said = unrecorded_error(tail)
        if said:
            return "failed", f"worker exited with code {finished.exit_code}: {said}"
        last = last_output_line(tail)
        shown = f"; its output ends: {last}" if last else "; it printed nothing"
        return "failed", f"worker exited with code {finished.exit_code}{shown}"

    def _stop_cancelled(self) -> None:
        # A job cancelled in the store (by `modelhealthd jobs cancel`) loses its worker here.
        for job_id in self.executor.running():
            job = self.store.jobs.get(job_id)
            if job is not None and not job.active:
                self.executor.cancel(job_id)

    def _fail_silent(self, now: float) -> None:
        running = self.executor.running()
        limit = self.config.jobs.heartbeat_timeout
        for job in self.store.jobs.active():
            if job.state != "running" or job.id in running:
                continue
            if job.heartbeat_at is None or now - job.heartbeat_at > limit:
                self.store.jobs.finish(
                    job.id, "failed", now, error=f"no heartbeat for {limit:g}s; the worker is gone"
                )

    def _start_queued(self, now: float) -> None:
        active = self.store.jobs.active()
        running = sum(1 for j in active if j.state == "running")
        for job in sorted((j for j in active if j.state == "queued"), key=lambda j: j.created_at):
            if running >= self.config.jobs.concurrency:
                break
            if not self.store.jobs.mark_running(job.id, now):
                continue
            try:
                ref = JobSettings.from_config(self.config, job.model, job.id).job_ref()
                self.executor.submit(ref, self.limits())
            except (ExecutorError, KeyError, OSError) as exc:
                self.store.jobs.finish(job.id, "failed", now, error=f"could not start the worker: {exc}")
                continue
            running += 1
            self.store.decisions.append(
                now,
                "job",
                f"{job.model}: job {job.id} ({job.pipeline}) started",
                model=job.model,
                job_id=job.id,
            )
            log.info("job %s started", job.id, extra={"model": job.model, "job": job.id})

    def handle_finished(self, job: JobRecord) -> None:
        """Log a finished job's outcome, promote a passed candidate, then mark the job handled.

        Level-triggered and idempotent: the outcome is logged only if the log lacks it, and the
        candidate is promoted only if no promotion of this job is done (or under way), so the
        same job handled again after a crash does nothing twice. A transient failure (the state
        store busy, an I/O error) leaves the job unhandled and retries with a backoff.
        """
        now = self.clock()
        failures, not_before = self._retry.get(job.id, (0, 0.0))
        if now < not_before:
            return
        try:
            result = job_result(job)
            text = self._log_outcome(job, result, now)
            self._maybe_promote(job, result, text, now)
            if self.store.jobs.mark_handled(job.id, self.clock()):
                failpoints.hit("supervisor.handled")
        except Exception as exc:
            delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
            self._retry[job.id] = (failures + 1, now + delay)
            log.warning(
                "handling finished job %s failed (%s: %s); retrying in %gs",
                job.id,
                type(exc).__name__,
                exc,
                delay,
                extra={"model": job.model, "job": job.id},
            )
            return
        self._retry.pop(job.id, None)

    def _log_outcome(self, job: JobRecord, result: JobResult | None, now: float) -> str:
        verdict = result.verdict if result else None
        text = verdict.text() if verdict else job.error or job.state
        logged = self.store.decisions.list(job_id=job.id, limit=500)
        if any(d.data.get("finished") for d in logged):
            return text
        seconds = job.finished_at - job.started_at if job.finished_at and job.started_at else None
        passed = verdict.passed if verdict else None
        self.metrics.job_finished(job.model, job.pipeline, job.state, seconds, passed)
        self.store.decisions.append(
            now,
            "verdict" if job.state == "succeeded" else "job",
            f"{job.model}: job {job.id} {job.state}: {text}",
            model=job.model,
            rule=job.rule,
            job_id=job.id,
            data={
                "state": job.state,
                "verdict": verdict.to_json() if verdict else {},
                "error": job.error,
                "finished": True,
            },
        )
        log.info("job %s %s", job.id, job.state, extra={"model": job.model, "job": job.id})
        if result is not None and self._promotable(job, result) and result.verdict.approval == "manual":
            self.store.decisions.append(
                now,
                "verdict",
                f"{job.model}: v{job.candidate_version} awaits manual approval "
                f"(modelhealthd promote {job.model} {job.candidate_version})",
                model=job.model,
                job_id=job.id,
            )
        return text

    @staticmethod
    def _promotable(job: JobRecord, result: JobResult) -> bool:
        """A candidate the gate passed and the worker staged; its approval is the verdict's own."""
        return result.verdict.passed and bool(job.candidate_version)

    def _maybe_promote(self, job: JobRecord, result: JobResult | None, text: str, now: float) -> None:
        candidate = job.candidate_version
        if result is None or candidate is None or not self._promotable(job, result):
            return
        if not result.verdict.auto_promote:
            return
        earlier = [p for p in self.store.promotions.for_job(job.id) if p.state in ("done", "intent")]
        if earlier:
            log.info(
                "job %s: v%s was promoted already (promotion %d)",
                job.id,
                job.candidate_version,
                earlier[0].id,
                extra={"model": job.model, "job": job.id},
            )
            return
        failpoints.hit("supervisor.promoting")
        try:
            self.promoter.promote(job.model, candidate, reason=text, job_id=job.id)
        except PromotionError as exc:  # refused for good (e.g. the version fails verification)
            if not exc.logged:
                self.store.decisions.append(now, "promotion", str(exc), model=job.model, job_id=job.id)
            log.warning("%s", exc, extra={"model": job.model, "job": job.id})

    def _export_running(self) -> None:
        counts: dict[str, int] = dict.fromkeys((m.name for m in self.config.models), 0)
        for job in self.store.jobs.active():
            counts[job.model] = counts.get(job.model, 0) + 1
        for model, count in counts.items():
            self.metrics.jobs_running.labels(model).set(count)

    def cancel(self, job_id: str) -> bool:
        job = self.store.jobs.get(job_id)
        if job is None or not job.active:
            return False
        self.executor.cancel(job_id)
        return self.store.jobs.finish(job_id, "cancelled", self.clock(), error="cancelled by request")
