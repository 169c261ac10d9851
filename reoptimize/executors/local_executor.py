"""Run each job worker as a local subprocess in its own process group, with a timeout.

Killing the group, not just the worker, also ends anything the worker started (such as a
data loader), so a timed-out or cancelled job leaves nothing running behind it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reoptimize.executors.executor import ExecutorError, Finished, check_job_id


@dataclass
class _Running:
    process: subprocess.Popen
    started: float
    deadline: float
    log_path: Path
    cancelled: bool = False
    timed_out: bool = False
    kill_at: float | None = None  # when a SIGTERM'd group gets SIGKILL


class LocalExecutor:
    """Subprocess executor. ``clock`` is injectable so tests can move time past a timeout."""

    def __init__(
        self,
        log_dir: str | Path,
        *,
        timeout_seconds: float = 1800.0,
        cancel_grace_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.log_dir = Path(log_dir)
        self.timeout_seconds = timeout_seconds
        self.cancel_grace_seconds = cancel_grace_seconds
        self.clock = clock
        self._jobs: dict[str, _Running] = {}

    def submit(self, job_id: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        check_job_id(job_id)
        if job_id in self._jobs:
            raise ExecutorError(f"job {job_id} is already running")
        if not argv:
            raise ExecutorError(f"job {job_id}: empty command line")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{job_id}.log"
        with open(log_path, "ab") as log:
            try:
                process = subprocess.Popen(
                    list(argv),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **(env or {})},
                    start_new_session=True,
                )
            except OSError as exc:
                raise ExecutorError(
                    f"job {job_id}: cannot start {argv[0]!r} ({exc.strerror or exc})"
                ) from None
        now = self.clock()
        self._jobs[job_id] = _Running(process, now, now + self.timeout_seconds, log_path)

    def poll(self) -> list[Finished]:
        finished = []
        now = self.clock()
        for job_id, job in list(self._jobs.items()):
            code = job.process.poll()
            if code is None:
                if not job.timed_out and not job.cancelled and now >= job.deadline:
                    job.timed_out = True
                    self._signal(job, signal.SIGKILL)
                    code = self._reap(job)
                elif job.kill_at is not None and now >= job.kill_at:
                    self._signal(job, signal.SIGKILL)
                    code = self._reap(job)
            if code is not None:
                # Stragglers the worker left in its group go with it.
                self._signal(job, signal.SIGKILL)
                del self._jobs[job_id]
                finished.append(
                    Finished(
                        job_id, code, job.timed_out, job.cancelled, max(0.0, now - job.started), job.log_path
                    )
                )
        return finished

    def cancel(self, job_id: str) -> None:
        job = self._jobs.get(job_id)
        if job is None or job.cancelled:
            return
        job.cancelled = True
        job.kill_at = self.clock() + self.cancel_grace_seconds
        self._signal(job, signal.SIGTERM)

    def running(self) -> set[str]:
        return set(self._jobs)

    def shutdown(self, grace_seconds: float) -> list[Finished]:
        """SIGTERM every worker, wait up to ``grace_seconds`` (real time), then SIGKILL the rest."""
        for job_id in list(self._jobs):
            self.cancel(job_id)
        deadline = time.monotonic() + grace_seconds
        finished = self.poll()
        while self._jobs and time.monotonic() < deadline:
            time.sleep(0.02)
            finished += self.poll()
        for job in self._jobs.values():
            job.kill_at = self.clock()
            self._signal(job, signal.SIGKILL)
            self._reap(job)
        return finished + self.poll()

    @staticmethod
    def _signal(job: _Running, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(job.process.pid, sig)

    @staticmethod
    def _reap(job: _Running) -> int | None:
        try:
            return job.process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            return None
