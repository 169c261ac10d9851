"""Run each job as a local subprocess in its own process group, with a timeout.

The subprocess is :mod:`reoptimize.executors.job_process`, which reads the job's reference from
its stdin and calls the job's entry. Killing the group, not just the process, also ends anything
the job started (such as a data loader), so a timed-out or cancelled job leaves nothing running
behind it. Each job's output goes to ``<log_dir>/<job id>.log``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reoptimize.executors.executor import ExecutorError, JobExit, JobLimits, JobRef, check_job_id


@dataclass
class _Running:
    process: subprocess.Popen[bytes]
    started: float
    deadline: float
    cancel_grace: float
    cancelled: bool = False
    timed_out: bool = False
    kill_at: float | None = None  # when a SIGTERM'd group gets SIGKILL


class LocalExecutor:
    """Subprocess executor. ``clock`` is injectable so tests can move time past a timeout.

    ``python`` is the interpreter that runs the jobs (the daemon's own by default); ``env`` adds
    to the daemon's environment for every job.
    """

    def __init__(
        self,
        log_dir: str | Path,
        *,
        python: str | None = None,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.log_dir = Path(log_dir)
        self.python = python or sys.executable
        self.env = dict(env or {})
        self.clock = clock
        self._jobs: dict[str, _Running] = {}

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> LocalExecutor:
        """Built by the daemon from ``jobs:``: ``log_dir`` (required) and ``python``."""
        return cls(settings["log_dir"], python=settings.get("python"))

    def submit(self, ref: JobRef, limits: JobLimits) -> None:
        job_id = check_job_id(ref.job_id)
        if job_id in self._jobs:
            raise ExecutorError(f"job {job_id} is already running")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        argv = [self.python, "-m", "reoptimize.executors.job_process", "--job", job_id]
        with open(self.log_path(job_id), "ab") as log:
            try:
                process = subprocess.Popen(
                    argv,
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **self.env},
                    start_new_session=True,
                )
            except OSError as exc:
                raise ExecutorError(
                    f"job {job_id}: cannot start {self.python!r} ({exc.strerror or exc})"
                ) from None
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # a process that died at once is polled as such
            process.stdin.write(ref.to_json().encode())
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
        now = self.clock()
        self._jobs[job_id] = _Running(process, now, now + limits.timeout_seconds, limits.cancel_grace_seconds)

    def poll(self) -> list[JobExit]:
        ended = []
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
                # Stragglers the job left in its group go with it.
                self._signal(job, signal.SIGKILL)
                del self._jobs[job_id]
                ended.append(JobExit(job_id, code, job.timed_out, job.cancelled, max(0.0, now - job.started)))
        return ended

    def cancel(self, job_id: str) -> None:
        job = self._jobs.get(job_id)
        if job is None or job.cancelled:
            return
        job.cancelled = True
        job.kill_at = self.clock() + job.cancel_grace
        self._signal(job, signal.SIGTERM)

    def running(self) -> set[str]:
        return set(self._jobs)

    def log_path(self, job_id: str) -> Path:
        return self.log_dir / f"{check_job_id(job_id)}.log"

    def log_tail(self, job_id: str, max_bytes: int = 8192) -> str:
        try:
            with open(self.log_path(job_id), "rb") as fh:
                fh.seek(max(0, fh.seek(0, os.SEEK_END) - max_bytes))
                return fh.read().decode(errors="replace")
        except (OSError, ExecutorError):
            return ""

    def shutdown(self, grace_seconds: float) -> list[JobExit]:
        """SIGTERM every job, wait up to ``grace_seconds`` (real time), then SIGKILL the rest."""
        for job_id in list(self._jobs):
            self.cancel(job_id)
        deadline = time.monotonic() + grace_seconds
        ended = self.poll()
        while self._jobs and time.monotonic() < deadline:
            time.sleep(0.02)
            ended += self.poll()
        for job in self._jobs.values():
            job.kill_at = self.clock()
            self._signal(job, signal.SIGKILL)
            self._reap(job)
        return ended + self.poll()

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
