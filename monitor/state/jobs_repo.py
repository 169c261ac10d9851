"""Re-optimization jobs: queued -> running -> succeeded | failed | cancelled | timed_out."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import desc, func, select, update
from sqlalchemy.engine import Engine

from monitor.state.records import ACTIVE_JOB_STATES, JOB_STATES, JobOutcome, JobRecord, dumps, loads
from monitor.state.schema import jobs

FINAL_STATES = tuple(s for s in JOB_STATES if s not in ACTIVE_JOB_STATES)
FAILED_STATES = ("failed", "timed_out")


def _record(row: Any) -> JobRecord:
    return JobRecord(
        id=row.id,
        model=row.model,
        pipeline=row.pipeline,
        params=loads(row.params, {}),
        trigger=loads(row.trigger, {}),
        rule=row.rule,
        state=row.state,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        heartbeat_at=row.heartbeat_at,
        progress=loads(row.progress),
        result=loads(row.result),
        error=row.error,
        champion_version=row.champion_version,
        candidate_version=row.candidate_version,
    )


class JobsRepo:
    def __init__(self, engine: Engine):
        self.engine = engine

    def create(
        self,
        model: str,
        pipeline: str,
        params: Mapping[str, Any],
        trigger: Mapping[str, Any],
        now: float,
        rule: str | None = None,
        champion_version: str | None = None,
    ) -> JobRecord:
        job_id = uuid.uuid4().hex[:16]
        with self.engine.begin() as conn:
            conn.execute(
                jobs.insert().values(
                    id=job_id,
                    model=model,
                    pipeline=pipeline,
                    params=dumps(dict(params)),
                    trigger=dumps(dict(trigger)),
                    rule=rule,
                    state="queued",
                    created_at=now,
                    champion_version=champion_version,
                )
            )
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> JobRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        return _record(row) if row else None

    def list(
        self, model: str | None = None, states: tuple[str, ...] | None = None, limit: int = 100
    ) -> builtins.list[JobRecord]:
        query = select(jobs).order_by(desc(jobs.c.created_at)).limit(limit)
        if model:
            query = query.where(jobs.c.model == model)
        if states:
            query = query.where(jobs.c.state.in_(states))
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(query)]

    def active(self, model: str | None = None) -> builtins.list[JobRecord]:
        return self.list(model, ACTIVE_JOB_STATES, limit=10_000)

    def _transition(self, job_id: str, from_states: tuple[str, ...], **values: Any) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(jobs).where((jobs.c.id == job_id) & (jobs.c.state.in_(from_states))).values(**values)
            )
            return result.rowcount == 1

    def mark_running(self, job_id: str, now: float) -> bool:
        return self._transition(job_id, ("queued",), state="running", started_at=now, heartbeat_at=now)

    def heartbeat(self, job_id: str, now: float, progress: Mapping[str, Any] | None = None) -> bool:
        values: dict[str, Any] = {"heartbeat_at": now}
        if progress is not None:
            values["progress"] = dumps(dict(progress))
        return self._transition(job_id, ("running",), **values)

    def finish(
        self,
        job_id: str,
        state: str,
        now: float,
        *,
        result: Mapping[str, Any] | None = None,
        error: str | None = None,
        candidate_version: str | None = None,
    ) -> bool:
        """Move an active job to a final state; a job that already finished is left as it is."""
        if state not in FINAL_STATES:
            raise ValueError(f"job state {state!r} is not final; expected one of {FINAL_STATES}")
        values: dict[str, Any] = {"state": state, "finished_at": now}
        if result is not None:
            values["result"] = dumps(dict(result))
        if error is not None:
            values["error"] = error
        if candidate_version is not None:
            values["candidate_version"] = candidate_version
        return self._transition(job_id, ACTIVE_JOB_STATES, **values)

    def unhandled_finished(self) -> builtins.list[JobRecord]:
        """Finished jobs whose outcome the daemon has not acted on yet (oldest first)."""
        query = (
            select(jobs)
            .where(jobs.c.state.in_(FINAL_STATES) & jobs.c.handled_at.is_(None))
            .order_by(jobs.c.finished_at.nulls_first())  # SQLite's order, on PostgreSQL too
        )
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(query)]

    def mark_handled(self, job_id: str, now: float) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(jobs).where((jobs.c.id == job_id) & jobs.c.handled_at.is_(None)).values(handled_at=now)
            )
            return result.rowcount == 1

    def started_since(self, model: str, since: float) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).where((jobs.c.model == model) & (jobs.c.created_at >= since))
                ).scalar_one()
            )

    def consecutive_failures(self, model: str) -> int:
        """Failed or timed-out jobs since the model's last succeeded one."""
        count = 0
        for job in self.list(model, FINAL_STATES, limit=50):
            if job.state == "succeeded":
                break
            if job.state in ("failed", "timed_out"):
                count += 1
        return count

    def last_created_at(self, model: str, rule: str) -> float | None:
        """When ``rule`` last queued a job for ``model``."""
        query = select(func.max(jobs.c.created_at)).where((jobs.c.rule == rule) & (jobs.c.model == model))
        with self.engine.connect() as conn:
            at = conn.execute(query).scalar_one()
        return None if at is None else float(at)

    def models_created_since(self, since: float) -> set[str]:
        """The models that had a job queued at or after ``since``."""
        query = select(jobs.c.model).where(jobs.c.created_at >= since).distinct()
        with self.engine.connect() as conn:
            return {row.model for row in conn.execute(query)}

    def recent_outcomes(self, model: str, limit: int = 100) -> builtins.list[JobOutcome]:
        """The model's finished jobs, latest finish first."""
        query = (
            select(jobs.c.state, jobs.c.finished_at, jobs.c.candidate_version)
            .where((jobs.c.model == model) & jobs.c.state.in_(FINAL_STATES))
            .order_by(desc(jobs.c.finished_at).nulls_last())  # PostgreSQL sorts NULL first otherwise
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [JobOutcome(r.state, r.finished_at, r.candidate_version) for r in conn.execute(query)]

    def last_failed_or_refused_at(self, model: str) -> float | None:
        """When the model's latest job failed, timed out, or succeeded without staging a candidate."""
        refused = (jobs.c.state == "succeeded") & jobs.c.candidate_version.is_(None)
        query = (
            select(jobs.c.finished_at)
            .where((jobs.c.model == model) & (jobs.c.state.in_(FAILED_STATES) | refused))
            .order_by(desc(jobs.c.finished_at).nulls_last())
            .limit(1)
        )
        with self.engine.connect() as conn:
            at = conn.execute(query).scalar_one_or_none()
        return None if at is None else float(at)
