"""Labels posted to the API, keyed by (model, request_id); files are read by monitor.sources.label_files."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from monitor.state.schema import labels
from monitor.state.upsert import upsert


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
            upsert(conn, labels, rows, ("model", "request_id"))
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
