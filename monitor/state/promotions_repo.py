"""Promotion and rollback history, including the intent written before the pointer moves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import desc, select, update
from sqlalchemy.engine import Engine

from monitor.state.records import PromotionRecord, dumps, loads
from monitor.state.schema import decisions, promotions


def _record(row: Any) -> PromotionRecord:
    return PromotionRecord(
        id=row.id,
        model=row.model,
        from_version=row.from_version,
        to_version=row.to_version,
        kind=row.kind,
        state=row.state,
        job_id=row.job_id,
        reason=row.reason,
        created_at=row.created_at,
        finished_at=row.finished_at,
        reload=loads(row.reload),
    )


class PromotionsRepo:
    def __init__(self, engine: Engine):
        self.engine = engine

    def record_intent(
        self,
        model: str,
        from_version: str | None,
        to_version: str,
        kind: str,
        reason: str,
        now: float,
        job_id: str | None,
    ) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                promotions.insert().values(
                    model=model,
                    from_version=from_version,
                    to_version=to_version,
                    kind=kind,
                    state="intent",
                    job_id=job_id,
                    reason=reason,
                    created_at=now,
                )
            )
            key = result.inserted_primary_key
            if key is None:  # a single-row insert into an autoincrement table always has one
                raise RuntimeError("insert into promotions returned no primary key")
            return int(key[0])

    def finish(
        self,
        promotion_id: int,
        state: str,
        now: float,
        reload: Mapping[str, Any] | None = None,
        decision: Mapping[str, Any] | None = None,
    ) -> bool:
        """Move an intent to ``done`` or ``aborted``; ``decision`` (the columns of a decision-log
        row) is written in the same transaction, so a crash leaves both or neither."""
        values: dict[str, Any] = {"state": state, "finished_at": now}
        if reload is not None:
            values["reload"] = dumps(dict(reload))
        with self.engine.begin() as conn:
            result = conn.execute(
                update(promotions)
                .where((promotions.c.id == promotion_id) & (promotions.c.state == "intent"))
                .values(**values)
            )
            if result.rowcount != 1:
                return False
            if decision is not None:
                row = dict(decision)
                row["data"] = dumps(dict(row.get("data") or {}, promotion_id=promotion_id))
                conn.execute(decisions.insert().values(at=now, **row))
            return True

    def for_job(self, job_id: str, kind: str = "promote") -> list[PromotionRecord]:
        """The promotions of ``kind`` a job's candidate has had (any state), oldest first."""
        query = (
            select(promotions)
            .where((promotions.c.job_id == job_id) & (promotions.c.kind == kind))
            .order_by(promotions.c.id)
        )
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(query)]

    def set_reload(self, promotion_id: int, reload: Mapping[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(promotions).where(promotions.c.id == promotion_id).values(reload=dumps(dict(reload)))
            )

    def pending_intents(self) -> list[PromotionRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(promotions).where(promotions.c.state == "intent").order_by(promotions.c.id)
            )
            return [_record(r) for r in rows]

    def list(self, model: str | None = None, limit: int = 100) -> list[PromotionRecord]:
        query = select(promotions).order_by(desc(promotions.c.id)).limit(limit)
        if model:
            query = query.where(promotions.c.model == model)
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(query)]

    def last_done(self, model: str) -> PromotionRecord | None:
        query = (
            select(promotions)
            .where((promotions.c.model == model) & (promotions.c.state == "done"))
            .order_by(desc(promotions.c.id))
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _record(row) if row else None
