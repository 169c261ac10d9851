"""PostgreSQL by URL: psycopg 3, an advisory lock for the daemon, a portable logical backup.

``postgresql://`` without a driver means psycopg 3 (``postgresql+psycopg://``), which comes
with ``pip install 'modelhealthd[postgresql]'``. A backup is the same self-contained SQLite
file a SQLite store's backup is (see :mod:`monitor.state.logical_dump`): it is read in one
REPEATABLE READ transaction, so it is consistent while the daemon writes, it needs no
``pg_dump`` of the server's exact version on the operator's machine, it carries the
production pointers in its ``meta`` table like any backup, and it restores into either
database. A restore replaces our tables in one transaction (PostgreSQL's DDL is
transactional), so a failed restore leaves the store as it was.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, MetaData, Table, create_engine, inspect, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.dml import Insert

from monitor.state import logical_dump, schema
from monitor.state.advisory_lock import AdvisoryLock, advisory_holder, migration_lock
from monitor.state.errors import StateError, causes, reason
from monitor.state.lock_holder import describe_this_process

DEFAULT_DRIVER = "psycopg"
EXTRA = "pip install 'modelhealthd[postgresql]'"
# SQLSTATE classes and codes that mean "try again": connection exceptions (08), transaction
# rollbacks such as serialization failures and deadlocks (40), insufficient resources (53),
# lock_not_available (55P03), and the server shutting down or starting (57P01-57P03).
TRANSIENT_CLASSES = ("08", "40", "53")
TRANSIENT_CODES = ("55P03", "57P01", "57P02", "57P03")


@contextlib.contextmanager
def _reaching(url: str, doing: str) -> Iterator[None]:
    """Database errors as StateError naming the store (password hidden) and the server's message."""
    try:
        yield
    except SQLAlchemyError as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        raise StateError(f"cannot {doing} the state store {shown!r}: {reason(exc)}") from exc


def _is_driver_operational_error(exc: BaseException) -> bool:
    return any(
        k.__name__ == "OperationalError" and k.__module__.startswith("psycopg") for k in type(exc).__mro__
    )


class PostgresBackend:
    """A store in one PostgreSQL database: ``postgresql://user@host:5432/modelhealthd``."""

    name = "postgresql"

    def driver_url(self, url: URL) -> URL:
        """``url`` with psycopg 3 as the driver when it names none."""
        return url.set(drivername=f"postgresql+{DEFAULT_DRIVER}") if url.drivername == "postgresql" else url

    def _engine(self, url: URL | str, **options: Any) -> Engine:
        parsed = self.driver_url(make_url(url) if isinstance(url, str) else url)
        try:
            return create_engine(parsed, **options)
        except ImportError as exc:
            raise StateError(
                f"the state store {parsed.render_as_string(hide_password=True)!r} needs the "
                f"PostgreSQL driver {parsed.get_driver_name()!r}, which is not installed ({exc}); "
                f"install it with {EXTRA}"
            ) from None

    def make_engine(self, url: URL) -> Engine:
        return self._engine(url, pool_pre_ping=True)

    def migration_guard(self, engine: Engine) -> AbstractContextManager[None]:
        return migration_lock(engine)

    def lock(self, url: str) -> AdvisoryLock:
        engine = self._engine(url, poolclass=NullPool)
        shown = engine.url.render_as_string(hide_password=True)
        with _reaching(url, "lock"):
            return AdvisoryLock(shown, engine).acquire(describe_this_process())

    def holder(self, url: str) -> str | None:
        engine = self._engine(url, poolclass=NullPool)
        try:
            with _reaching(url, "read the daemon lock of"), engine.connect() as conn:
                return advisory_holder(conn)
        finally:
            engine.dispose()

    def upsert_statement(
        self, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]
    ) -> Insert:
        stmt = insert(table).values(list(rows))
        others = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
        return stmt.on_conflict_do_update(index_elements=list(keys), set_=others)

    def is_transient(self, exc: BaseException) -> bool:
        for cause in causes(exc):
            if getattr(cause, "connection_invalidated", False):
                return True
            sqlstate = getattr(cause, "sqlstate", None)
            if isinstance(sqlstate, str):
                if sqlstate[:2] in TRANSIENT_CLASSES or sqlstate in TRANSIENT_CODES:
                    return True
            elif _is_driver_operational_error(cause):
                return True  # psycopg gives no SQLSTATE when it cannot reach the server at all
        return False

    def size_bytes(self, engine: Engine) -> int | None:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())

    def backup(self, url: str, dest: Path) -> None:
        engine = self._engine(url, poolclass=NullPool)
        try:
            with (
                _reaching(url, "back up"),
                engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
            ):
                conn.execute(text("SET TRANSACTION READ ONLY"))
                logical_dump.dump(conn, set(schema.metadata.tables), dest)
                conn.rollback()
        finally:
            engine.dispose()

    def load(self, url: str, src: Path) -> None:
        engine = self._engine(url, poolclass=NullPool)
        try:
            with _reaching(url, "restore into"), engine.begin() as conn:
                tables = logical_dump.load(src, conn, set(schema.metadata.tables))
                _restart_sequences(conn, tables)
        finally:
            engine.dispose()

    def save_current(self, url: str, near: Path, stamp: str) -> Path | None:
        engine = self._engine(url, poolclass=NullPool)
        try:
            with _reaching(url, "save"), engine.connect() as conn:
                exists = inspect(conn).has_table("meta")
        finally:
            engine.dispose()
        if not exists:
            return None
        database = make_url(url).database or "state"
        saved = Path(near).with_name(f"{database}.before-restore-{stamp}.db")
        partial = saved.with_name(saved.name + ".partial")
        partial.unlink(missing_ok=True)
        self.backup(url, partial)
        os.replace(partial, saved)  # like SQLite's copy, a second restore within the second replaces it
        return saved


def _restart_sequences(conn: Connection, tables: MetaData) -> None:
    """Move each id sequence past the ids the restored rows brought, so new rows get fresh ids."""
    quote = conn.dialect.identifier_preparer.quote
    for table in tables.sorted_tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, Integer):
            continue
        column = keys[0].name
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                f"COALESCE((SELECT MAX({quote(column)}) FROM {quote(table.name)}), 0) + 1, false)"
            ),
            {"table": table.name, "column": column},
        )
