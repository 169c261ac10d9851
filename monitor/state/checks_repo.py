"""Check results: one row per model per check, with its measurements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, desc, func, select
from sqlalchemy.engine import Engine

from monitor.state.records import CheckRecord, dumps, loads
from monitor.state.schema import checks


def _record(row: Any) -> CheckRecord:
    return CheckRecord(
        id=row.id,
        model=row.model,
        version=row.version,
        at=row.at,
        ok=bool(row.ok),
        error=row.error,
        measurements=loads(row.measurements, {}),
        details=loads(row.details, {}),
    )


class ChecksRepo:
    def __init__(self, engine: Engine):
        self.engine = engine

    def record(
        self,
        model: str,
        version: str | None,
        at: float,
        measurements: Mapping[str, float | None],
        details: Mapping[str, Any],
        error: str | None = None,
    ) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                checks.insert().values(
                    model=model,
                    version=version,
                    at=at,
                    ok=0 if error else 1,
                    error=error,
                    measurements=dumps(dict(measurements)),
                    details=dumps(dict(details)),
                )
            )
            key = result.inserted_primary_key
            if key is None:  # a single-row insert into an autoincrement table always has one
                raise RuntimeError("insert into checks returned no primary key")
            return int(key[0])

    def latest(self, model: str) -> CheckRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(checks).where(checks.c.model == model).order_by(desc(checks.c.id)).limit(1)
            ).first()
        return _record(row) if row else None

    def list(
        self, model: str | None = None, limit: int = 100, since: float | None = None
    ) -> list[CheckRecord]:
        query = select(checks).order_by(desc(checks.c.id)).limit(limit)
        if model:
            query = query.where(checks.c.model == model)
        if since is not None:
            query = query.where(checks.c.at >= since)
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(query)]

    def count(self, model: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(checks.c.model == model)).scalar_one())

    def prune(self, older_than: float) -> int:
        with self.engine.begin() as conn:
            return conn.execute(delete(checks).where(checks.c.at < older_than)).rowcount
