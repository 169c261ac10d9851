"""Labels posted to the API, keyed by (model, request_id); files are read by monitor.sources.labels."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from monitor.state.schema import labels


class LabelsRepo:
    def __init__(self, engine: Engine):
        self.engine = engine

    def add(self, model: str, items: Iterable[tuple[str, Any, float]]) -> int:
        """Store (request_id, label, at) triples; a repeated request id keeps its latest label."""
        rows = [
            {"model": model, "request_id": rid, "label": json.dumps(lab), "at": at} for rid, lab, at in items
        ]
        if not rows:
            return 0
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "sqlite":
                stmt = sqlite_insert(labels).values(rows)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["model", "request_id"],
                    set_={"label": stmt.excluded.label, "at": stmt.excluded.at},
                )
                conn.execute(stmt)
            else:
                for row in rows:
                    conn.execute(
                        delete(labels).where(
                            (labels.c.model == model) & (labels.c.request_id == row["request_id"])
                        )
                    )
                conn.execute(labels.insert(), rows)
        return len(rows)

    def since(self, model: str, since: float) -> Mapping[str, Any]:
        query = select(labels.c.request_id, labels.c.label).where(
            (labels.c.model == model) & (labels.c.at >= since)
        )
        with self.engine.connect() as conn:
            return {r.request_id: json.loads(r.label) for r in conn.execute(query)}

    def prune(self, older_than: float) -> int:
        with self.engine.begin() as conn:
            return conn.execute(delete(labels).where(labels.c.at < older_than)).rowcount
