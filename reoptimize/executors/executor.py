"""The ``Executor`` protocol: run one job's function somewhere, notice when it ends, stop it.

An executor knows nothing of a job's contents. It is handed a :class:`JobRef` (which function
runs the job, and that function's JSON arguments) and :class:`JobLimits`, and it runs
``entry(payload)`` in a process of its own: a local subprocess, or a worker on a cluster. The
daemon calls :meth:`Executor.poll` from its scheduler loop and learns each ending once.

Example::

    executor.submit(JobRef("j-1", "monitor.jobs.worker:run_job_ref", {"state": url}), JobLimits(1800))
    for ended in executor.poll():
        print(ended.job_id, ended.exit_code, executor.log_tail(ended.job_id))
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

JOB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")
ENTRY_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*\Z")


class ExecutorError(RuntimeError):
    """A submission the executor cannot accept; the message names the job id."""


def check_job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not JOB_ID_RE.match(job_id):
        raise ExecutorError(
            f"invalid job id {job_id!r}: expected letters, digits, '_', '.', '-' (at most 128)"
        )
    return job_id


@dataclass(frozen=True)
class JobRef:
    """One job, as any executor can run it: ``entry`` is ``package.module:function``, called as
    ``function(payload) -> int`` (the exit code) in the job's own process. ``payload`` must be JSON,
    so that it can travel to another machine; it says where the job finds its inputs."""

    job_id: str
    entry: str
    payload: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_job_id(self.job_id)
        if not isinstance(self.entry, str) or not ENTRY_RE.match(self.entry):
            raise ExecutorError(f"job {self.job_id}: entry {self.entry!r} is not 'package.module:function'")

    def to_json(self) -> str:
        return json.dumps({"job_id": self.job_id, "entry": self.entry, "payload": dict(self.payload)})

    @classmethod
    def from_json(cls, text: str) -> JobRef:
        try:
            data = json.loads(text)
            return cls(str(data["job_id"]), str(data["entry"]), dict(data.get("payload") or {}))
        except (ValueError, KeyError, TypeError) as exc:
            raise ExecutorError(f"not a job reference ({exc})") from None


def load_entry(entry: str) -> Callable[[Mapping[str, Any]], int]:
    """The function ``package.module:function`` names."""
    module_name, _, name = entry.partition(":")
    function = getattr(importlib.import_module(module_name), name, None)
    if not callable(function):
        raise ExecutorError(f"entry {entry!r}: {module_name} has no function {name!r}")
    return function  # type: ignore[no-any-return]


@dataclass(frozen=True)
class JobLimits:
    """How long a job may run, and how long a cancelled one gets between SIGTERM and SIGKILL."""

    timeout_seconds: float = 1800.0
    cancel_grace_seconds: float = 10.0


@dataclass(frozen=True)
class JobExit:
    """A job that ended. ``exit_code`` is negative when a signal ended it (the POSIX convention)."""

    job_id: str
    exit_code: int | None
    timed_out: bool = False
    cancelled: bool = False
    duration_seconds: float = 0.0

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.cancelled


class Executor(Protocol):
    """Runs jobs.

    * ``submit(ref, limits)`` starts one job; raises :class:`ExecutorError` naming the job when it
      cannot start (a duplicate id, nothing to run it with).
    * ``poll()`` returns the jobs that ended since the last call, each exactly once, and
      enforces the timeouts and cancellation grace periods of ``limits``.
    * ``cancel(job_id)`` asks a job to stop (a no-op for unknown or ended ids).
    * ``running()`` lists the job ids still running.
    * ``log_tail(job_id, max_bytes)`` is the end of a job's output, running or ended ("" if none).
    * ``shutdown(grace_seconds)`` stops every job, waiting at most ``grace_seconds`` before killing.
    """

    def submit(self, ref: JobRef, limits: JobLimits) -> None: ...

    def poll(self) -> list[JobExit]: ...

    def cancel(self, job_id: str) -> None: ...

    def running(self) -> set[str]: ...

    def log_tail(self, job_id: str, max_bytes: int = 8192) -> str: ...

    def shutdown(self, grace_seconds: float) -> list[JobExit]: ...
