"""The ``meta`` table (schema version, migration history, backup and restore records) and the
store-wide facts the operator commands show: row counts and size."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from monitor.state import schema
from monitor.state.backend import backend_of


class MetaRepo:
    def __init__(self, engine: Engine):
        self.engine = engine

    def values(self) -> dict[str, Any]:
        """Every ``meta`` row, its JSON value decoded."""
        with self.engine.connect() as conn:
            return {r.key: json.loads(r.value) for r in conn.execute(select(schema.meta))}

    def get(self, key: str) -> Any:
        with self.engine.connect() as conn:
            row = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == key)).first()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        """Set ``key`` to ``value`` (stored as JSON), replacing what was there."""
        with self.engine.begin() as conn:
            conn.execute(schema.meta.delete().where(schema.meta.c.key == key))
            conn.execute(schema.meta.insert().values(key=key, value=json.dumps(value)))

    def schema_version(self) -> int:
        return int(self.get("schema_version"))

    def row_counts(self) -> dict[str, int]:
        """Rows per table of the current schema, ``meta`` aside."""
        with self.engine.connect() as conn:
            return {
                name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                for name, table in schema.metadata.tables.items()
                if name != "meta"
            }

    def clear_rows(self) -> int:
        """Delete every row of every table but ``meta`` (the schema stays); returns how many went."""
        with self.engine.begin() as conn:
            return sum(
                conn.execute(table.delete()).rowcount
                for name, table in schema.metadata.tables.items()
                if name != "meta"
            )

    def size_bytes(self) -> int | None:
        return backend_of(self.engine).size_bytes(self.engine)
