"""Rule states per (rule, model), persisted so pending and firing survive restarts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from monitor.state.records import dumps, loads
from monitor.state.schema import rule_states


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
            if self.engine.dialect.name == "sqlite":
                stmt = sqlite_insert(rule_states).values(rows)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["rule", "model"],
                    set_={"state": stmt.excluded.state, "updated_at": stmt.excluded.updated_at},
                )
                conn.execute(stmt)
            else:
                for row in rows:
                    conn.execute(
                        rule_states.delete().where(
                            (rule_states.c.rule == row["rule"]) & (rule_states.c.model == row["model"])
                        )
                    )
                    conn.execute(rule_states.insert().values(**row))
