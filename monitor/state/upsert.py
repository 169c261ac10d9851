"""Insert-or-replace by key, in one statement (each backend supplies its dialect's form)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection

from monitor.state.backend import backend_of


def upsert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> None:
    """Write ``rows``; a row whose ``keys`` columns match an existing one replaces it."""
    if rows:
        conn.execute(backend_of(conn).upsert_statement(table, rows, keys))
