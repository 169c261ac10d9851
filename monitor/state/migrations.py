"""Numbered forward migrations of the state store's schema.

A fresh store gets the whole current schema from :mod:`monitor.state.schema` and starts at
``SCHEMA_VERSION``. An older store is brought forward on open, one migration at a time, in
one transaction: migration ``N`` takes a store at version ``N - 1`` to version ``N``.

To change the schema: edit ``schema.py`` (so fresh stores get the change), bump
``SCHEMA_VERSION``, and append a :class:`Migration` with that number whose statements make
the same change to an existing store. ``tests/monitor/state/test_state_migrations.py`` opens a
store written by every older version and checks that it ends up like a fresh one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class Migration:
    version: int  # the schema version this migration produces
    description: str
    statements: tuple[str, ...]  # portable SQL (SQLite and PostgreSQL)

    def apply(self, conn: Connection) -> None:
        for statement in self.statements:
            conn.exec_driver_sql(statement)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        2,
        "indexes for the operator commands: jobs by state, decisions by kind",
        (
            "CREATE INDEX IF NOT EXISTS ix_jobs_state_created ON jobs (state, created_at)",
            "CREATE INDEX IF NOT EXISTS ix_decisions_kind_id ON decisions (kind, id)",
        ),
    ),
)


def latest_version() -> int:
    return MIGRATIONS[-1].version if MIGRATIONS else 1


def pending(current: int) -> list[Migration]:
    """The migrations a store at version ``current`` needs, in order."""
    return [m for m in MIGRATIONS if m.version > current]


def check_sequence(schema_version: int) -> None:
    """Migrations must be numbered 2, 3, ... up to ``schema_version`` with no gap."""
    numbers = [m.version for m in MIGRATIONS]
    expected = list(range(2, schema_version + 1))
    if numbers != expected:
        raise AssertionError(
            f"state migrations are numbered {numbers}; SCHEMA_VERSION {schema_version} needs {expected}"
        )


def history_entry(migration: Migration, now: float | None = None) -> tuple[str, str]:
    """The ``meta`` row that records when a migration ran: ``migration_<n>`` -> JSON."""
    applied = time.time() if now is None else now
    return f"migration_{migration.version}", json.dumps(
        {"description": migration.description, "applied_at": applied}
    )
