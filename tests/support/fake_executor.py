"""An in-memory :class:`~reoptimize.executors.executor.Executor` for tests of what drives executors.

It runs nothing: a test submits through the daemon's supervisor, then ends jobs by hand
(:meth:`FakeExecutor.end`), and the next ``poll()`` reports them, as a real executor would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reoptimize.executors.executor import ExecutorError, JobExit, JobLimits, JobRef


@dataclass
class FakeExecutor:
    submitted: list[tuple[JobRef, JobLimits]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)
    _running: set[str] = field(default_factory=set)
    _ended: list[JobExit] = field(default_factory=list)

    def submit(self, ref: JobRef, limits: JobLimits) -> None:
        if ref.job_id in self._running:
            raise ExecutorError(f"job {ref.job_id} is already running")
        self.submitted.append((ref, limits))
        self._running.add(ref.job_id)

    def end(self, job_id: str, exit_code: int = 0, output: str = "", *, timed_out: bool = False) -> None:
        """End a running job: the next poll reports it."""
        self._running.discard(job_id)
        self.logs[job_id] = self.logs.get(job_id, "") + output
        self._ended.append(
            JobExit(job_id, exit_code, timed_out=timed_out, cancelled=job_id in self.cancelled)
        )

    def poll(self) -> list[JobExit]:
        ended, self._ended = self._ended, []
        return ended

    def cancel(self, job_id: str) -> None:
        if job_id in self._running and job_id not in self.cancelled:
            self.cancelled.append(job_id)

    def running(self) -> set[str]:
        return set(self._running)

    def log_tail(self, job_id: str, max_bytes: int = 8192) -> str:
        return self.logs.get(job_id, "")[-max_bytes:]

    def shutdown(self, grace_seconds: float) -> list[JobExit]:
        for job_id in sorted(self._running):
            self.cancel(job_id)
            self.end(job_id, -15)
        return self.poll()
