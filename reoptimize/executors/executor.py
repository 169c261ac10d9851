"""The ``Executor`` protocol: start job workers, notice when they end, stop them.

An executor only runs processes; it knows nothing about jobs' contents. The daemon
submits a worker command line per job and calls ``poll()`` from its scheduler loop.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

JOB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")


class ExecutorError(RuntimeError):
    """A submission the executor cannot accept; the message names the job id."""


def check_job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not JOB_ID_RE.match(job_id):
        raise ExecutorError(
            f"invalid job id {job_id!r}: expected letters, digits, '_', '.', '-' (at most 128)"
        )
    return job_id


@dataclass(frozen=True)
class Finished:
    """A worker that ended. ``exit_code`` is negative when a signal ended it (the POSIX convention)."""

    job_id: str
    exit_code: int | None
    timed_out: bool = False
    cancelled: bool = False
    duration_seconds: float = 0.0
    log_path: Path | None = None

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.cancelled


class Executor(Protocol):
    """Runs job workers.

    * ``submit(job_id, argv, env)`` starts one worker; ``env`` adds to the executor's environment.
    * ``poll()`` returns the workers that ended since the last call, each exactly once, and
      enforces timeouts and cancellation grace periods.
    * ``cancel(job_id)`` asks a worker to stop (a no-op for unknown or finished ids).
    * ``running()`` lists the job ids still running.
    * ``shutdown(grace_seconds)`` stops every worker, waiting at most ``grace_seconds`` before killing.
    """

    def submit(self, job_id: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> None: ...

    def poll(self) -> list[Finished]: ...

    def cancel(self, job_id: str) -> None: ...

    def running(self) -> set[str]: ...

    def shutdown(self, grace_seconds: float) -> list[Finished]: ...
