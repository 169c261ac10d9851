"""Insert-or-replace by key, in one statement where the database has one (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, and_
from sqlalchemy.engine import Connection


def upsert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> None:
    """Write ``rows``; a row whose ``keys`` columns match an existing one replaces it."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        stmt = insert(table).values(list(rows))
        others = [c for c in rows[0] if c not in keys]
        conn.execute(
            stmt.on_conflict_do_update(index_elements=list(keys), set_={c: stmt.excluded[c] for c in others})
        )
        return
    for row in rows:
        conn.execute(table.delete().where(and_(*(table.c[k] == row[k] for k in keys))))
    conn.execute(table.insert(), list(rows))
