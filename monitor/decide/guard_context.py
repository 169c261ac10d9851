"""The guards' view of the world, answered from the state store."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import desc, func, select

from monitor.state.schema import decisions, jobs
from monitor.state.store import StateStore

FAILED = ("failed", "timed_out")
FINISHED = ("succeeded", "failed", "timed_out", "cancelled")


class StoreGuardContext:
    """Implements :class:`rules.guards.GuardContext` over the jobs table.

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
        query = select(func.max(jobs.c.created_at)).where((jobs.c.rule == rule) & (jobs.c.model == model))
        with self.store.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def models_acted_since(self, since: float) -> set[str]:
        query = select(jobs.c.model).where(jobs.c.created_at >= since).distinct()
        with self.store.engine.connect() as conn:
            return {row.model for row in conn.execute(query)}

    def breaker_reset_at(self, model: str) -> float | None:
        query = select(func.max(decisions.c.at)).where(
            (decisions.c.kind == "reset") & (decisions.c.model == model)
        )
        with self.store.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def consecutive_failures(self, model: str) -> int:
        reset = self.breaker_reset_at(model)
        query = (
            select(jobs.c.state, jobs.c.finished_at, jobs.c.candidate_version)
            .where((jobs.c.model == model) & jobs.c.state.in_(FINISHED))
            .order_by(desc(jobs.c.finished_at))
            .limit(100)
        )
        count = 0
        with self.store.engine.connect() as conn:
            for row in conn.execute(query):
                staged = row.state == "succeeded" and row.candidate_version is not None
                if staged or (reset is not None and (row.finished_at or 0) <= reset):
                    break
                count += row.state in FAILED or row.state == "succeeded"
        return count

    def last_failure_at(self, model: str) -> float | None:
        refused = (jobs.c.state == "succeeded") & jobs.c.candidate_version.is_(None)
        query = (
            select(jobs.c.finished_at)
            .where((jobs.c.model == model) & (jobs.c.state.in_(FAILED) | refused))
            .order_by(desc(jobs.c.finished_at))
            .limit(1)
        )
        with self.store.engine.connect() as conn:
            return conn.execute(query).scalar_one_or_none()

    def watching(self, model: str) -> bool:
        return self._watching(model)
