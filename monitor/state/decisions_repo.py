"""The decision log: every transition, guard verdict, job, gate verdict and promotion, with its inputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import desc, func, select
from sqlalchemy.engine import Engine

from monitor.state.records import DecisionRecord, dumps, loads
from monitor.state.schema import decisions


def _record(row: Any) -> DecisionRecord:
    return DecisionRecord(
        id=row.id,
        at=row.at,
        kind=row.kind,
        model=row.model,
        rule=row.rule,
        job_id=row.job_id,
        message=row.message,
        data=loads(row.data, {}),
    )


class DecisionsRepo:
    def __init__(self, engine: Engine):
        self.engine = engine

    def append(
        self,
        at: float,
        kind: str,
        message: str,
        *,
        model: str | None = None,
        rule: str | None = None,
        job_id: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                decisions.insert().values(
                    at=at,
                    kind=kind,
                    model=model,
                    rule=rule,
                    job_id=job_id,
                    message=message,
                    data=dumps(dict(data or {})),
                )
            )
            key = result.inserted_primary_key
            if key is None:  # a single-row insert into an autoincrement table always has one
                raise RuntimeError("insert into decisions returned no primary key")
            return int(key[0])

    def list(
        self,
        model: str | None = None,
        kind: str | None = None,
        job_id: str | None = None,
        limit: int = 200,
        after_id: int | None = None,
    ) -> list[DecisionRecord]:
        query = select(decisions).order_by(desc(decisions.c.id)).limit(limit)
        if model:
            query = query.where(decisions.c.model == model)
        if kind:
            query = query.where(decisions.c.kind == kind)
        if job_id:
            query = query.where(decisions.c.job_id == job_id)
        if after_id is not None:
            query = query.where(decisions.c.id > after_id)
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(query)]

    def last_at(self, kind: str, model: str) -> float | None:
        """When the latest decision of ``kind`` about ``model`` was made."""
        query = select(func.max(decisions.c.at)).where(
            (decisions.c.kind == kind) & (decisions.c.model == model)
        )
        with self.engine.connect() as conn:
            at = conn.execute(query).scalar_one()
        return None if at is None else float(at)
