"""The guards' view of the world, answered from the state store."""

from __future__ import annotations

from collections.abc import Callable

from monitor.state.store import StateStore

FAILED = ("failed", "timed_out")


class StoreGuardContext:
    """Implements :class:`rules.guards.GuardContext` over the store's jobs and decision log.

    For the circuit breaker a job fails when it failed or timed out, and also when it succeeded
    without staging a candidate (the gate refused every one: corrupt or useless training data
    must stop the model's jobs too). Only a job that staged a candidate ends a run of failures;
    a cancelled one neither counts nor ends it. A person's reset is a ``reset`` entry in the
    decision log; failures that ended before the latest one no longer count.
    """

    def __init__(self, store: StateStore, watching: Callable[[str], bool] = lambda _model: False):
        self.store = store
        self._watching = watching

    def running_jobs(self, model: str) -> int:
        return len(self.store.jobs.active(model))

    def running_jobs_total(self) -> int:
        return len(self.store.jobs.active())

    def jobs_started_since(self, model: str, since: float) -> int:
        return self.store.jobs.started_since(model, since)

    def last_action_at(self, rule: str, model: str) -> float | None:
        return self.store.jobs.last_created_at(model, rule)

    def models_acted_since(self, since: float) -> set[str]:
        return self.store.jobs.models_created_since(since)

    def breaker_reset_at(self, model: str) -> float | None:
        return self.store.decisions.last_at("reset", model)

    def consecutive_failures(self, model: str) -> int:
        reset = self.breaker_reset_at(model)
        count = 0
        for job in self.store.jobs.recent_outcomes(model, limit=100):
            staged = job.state == "succeeded" and job.candidate_version is not None
            if staged or (reset is not None and (job.finished_at or 0) <= reset):
                break
            count += job.state in FAILED or job.state == "succeeded"
        return count

    def last_failure_at(self, model: str) -> float | None:
        return self.store.jobs.last_failed_or_refused_at(model)

    def watching(self, model: str) -> bool:
        return self._watching(model)
