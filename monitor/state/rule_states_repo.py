"""Rule states per (rule, model), persisted so pending and firing survive restarts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from monitor.state.records import dumps, loads
from monitor.state.schema import rule_states
from monitor.state.upsert import upsert


class RuleStatesRepo:
    def __init__(self, engine: Engine):
        self.engine = engine

    def load(self, model: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
        query = select(rule_states)
        if model:
            query = query.where(rule_states.c.model == model)
        with self.engine.connect() as conn:
            return {(r.rule, r.model): loads(r.state) for r in conn.execute(query)}

    def save(self, model: str, states: Mapping[str, Mapping[str, Any]], at: float) -> None:
        if not states:
            return
        rows = [
            {"rule": rule, "model": model, "state": dumps(dict(s)), "updated_at": at}
            for rule, s in states.items()
        ]
        with self.engine.begin() as conn:
            upsert(conn, rule_states, rows, ("rule", "model"))
