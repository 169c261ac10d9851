"""Runs queued jobs on the executor and acts on finished ones, level-triggered and idempotent.

Each tick: collect exited workers, fail jobs whose worker is gone or silent, start queued
jobs up to the concurrency limit, then handle every finished job exactly once (decision log,
metrics, and promotion of a candidate the gate passed).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

from monitor.config import Config
from monitor.exporter import DaemonMetrics
from monitor.promotion import Promoter, PromotionError
from monitor.state.records import JobRecord
from monitor.state.store import StateStore

log = logging.getLogger("modelhealthd.jobs")


class JobSupervisor:
    def __init__(
        self,
        config: Config,
        config_path: Path,
        store: StateStore,
        executor,  # reoptimize.executors.base.Executor
        promoter: Promoter,
        metrics: DaemonMetrics,
        clock: Callable[[], float],
    ):
        self.config = config
        self.config_path = config_path
        self.store = store
        self.executor = executor
        self.promoter = promoter
        self.metrics = metrics
        self.clock = clock
        self.draining = False

    def argv(self, job_id: str) -> list[str]:
        python = self.config.jobs.python or sys.executable
        return [python, "-m", "monitor.worker", "--config", str(self.config_path), "--job", job_id]

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
        for finished in self.executor.poll():
            job = self.store.jobs.get(finished.job_id)
            if job is None or not job.active:
                continue
            if finished.timed_out:
                state, error = "timed_out", f"killed after the job timeout of {self.config.jobs.timeout:g}s"
            elif finished.cancelled:
                state, error = "cancelled", "cancelled by request"
            elif finished.exit_code == 0:
                state, error = "failed", "worker exited without recording a result"
            else:
                state, error = (
                    "failed",
                    f"worker exited with code {finished.exit_code}; see {finished.log_path}",
                )
            self.store.jobs.finish(job.id, state, now, error=error)

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
                self.executor.submit(job.id, self.argv(job.id), None)
            except OSError as exc:
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
        now = self.clock()
        if not self.store.jobs.mark_handled(job.id, now):
            return
        verdict = (job.result or {}).get("verdict") or {}
        seconds = job.finished_at - job.started_at if job.finished_at and job.started_at else None
        passed = bool(verdict.get("passed")) if verdict else None
        self.metrics.job_finished(job.model, job.pipeline, job.state, seconds, passed)
        text = verdict.get("text") or job.error or job.state
        self.store.decisions.append(
            now,
            "verdict" if job.state == "succeeded" else "job",
            f"{job.model}: job {job.id} {job.state}: {text}",
            model=job.model,
            rule=job.rule,
            job_id=job.id,
            data={"state": job.state, "verdict": verdict, "error": job.error},
        )
        log.info("job %s %s", job.id, job.state, extra={"model": job.model, "job": job.id})
        if job.state != "succeeded" or not verdict.get("passed") or not job.candidate_version:
            return
        try:
            policy = self.config.model(job.model).policy
        except KeyError:
            return
        if policy.approval == "manual":
            self.store.decisions.append(
                now,
                "verdict",
                f"{job.model}: v{job.candidate_version} awaits manual approval "
                f"(modelhealthd promote {job.model} {job.candidate_version})",
                model=job.model,
                job_id=job.id,
            )
            return
        try:
            self.promoter.promote(job.model, job.candidate_version, reason=text, job_id=job.id)
        except PromotionError as exc:
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
