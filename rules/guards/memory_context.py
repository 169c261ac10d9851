"""An in-memory :class:`GuardContext`, for tests and for dry runs without a state store."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class _Job:
    rule: str
    model: str
    started_at: float
    finished_at: float | None = None
    ok: bool | None = None


@dataclass
class MemoryGuardContext:
    """Jobs and watches kept in lists; record them with :meth:`start_job`, :meth:`finish_job`, :meth:`watch`."""

    jobs: list[_Job] = field(default_factory=list)
    watches: set[str] = field(default_factory=set)
    resets: dict[str, float] = field(default_factory=dict)

    def start_job(self, rule: str, model: str, at: float) -> int:
        """Record a job start; returns its id for :meth:`finish_job`."""
        self.jobs.append(_Job(rule, model, at))
        return len(self.jobs) - 1

    def finish_job(self, job_id: int, ok: bool, at: float) -> None:
        job = self.jobs[job_id]
        if job.finished_at is not None:
            raise ValueError(f"job {job_id} already finished")
        job.finished_at, job.ok = at, ok

    def watch(self, model: str, active: bool = True) -> None:
        (self.watches.add if active else self.watches.discard)(model)

    def reset_breaker(self, model: str, at: float) -> None:
        """A person closes the model's circuit breaker: failures that ended before ``at`` stop counting."""
        self.resets[model] = at

    def running_jobs(self, model: str) -> int:
        return sum(1 for j in self.jobs if j.model == model and j.finished_at is None)

    def running_jobs_total(self) -> int:
        return sum(1 for j in self.jobs if j.finished_at is None)

    def jobs_started_since(self, model: str, since: float) -> int:
        return sum(1 for j in self.jobs if j.model == model and j.started_at >= since)

    def last_action_at(self, rule: str, model: str) -> float | None:
        return max((j.started_at for j in self.jobs if j.rule == rule and j.model == model), default=None)

    def models_acted_since(self, since: float) -> set[str]:
        return {j.model for j in self.jobs if j.started_at >= since}

    def consecutive_failures(self, model: str) -> int:
        done = sorted((j for j in self.jobs if j.model == model and j.finished_at is not None), key=_end)
        reset = self.resets.get(model, float("-inf"))
        count = 0
        for job in reversed(done):
            if job.ok or _end(job) <= reset:
                break
            count += 1
        return count

    def last_failure_at(self, model: str) -> float | None:
        ends = [_end(j) for j in self.jobs if j.model == model and j.finished_at is not None and not j.ok]
        return max(ends, default=None)

    def watching(self, model: str) -> bool:
        return model in self.watches


def _end(job: _Job) -> float:
    return job.finished_at if job.finished_at is not None else float("inf")
