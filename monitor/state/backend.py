"""What differs between the databases a state store can live in, behind one small protocol.

A :class:`StoreBackend` owns everything dialect-specific: how the engine is made, the lock a
running daemon holds, backup and restore, the one-statement upsert and which errors are
transient (worth retrying). :data:`BACKENDS` maps a SQLAlchemy dialect name to its backend,
so adding a database means adding one module and one entry here, and nothing else branches
on the dialect.

>>> backend_for("sqlite:///state.db").name
'sqlite'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Table
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.sql.dml import Insert

from monitor.state.errors import StateError
from monitor.state.postgres_backend import PostgresBackend
from monitor.state.sqlite_backend import SqliteBackend


class HeldLock(Protocol):
    """A daemon lock that this process holds until :meth:`release`."""

    def release(self) -> None:
        """Give the lock up; safe to call more than once."""


class StoreBackend(Protocol):
    """One database kind. Methods take the store's URL as the operator wrote it."""

    name: str  # the SQLAlchemy dialect name, the key in BACKENDS

    def make_engine(self, url: URL) -> Engine:
        """An engine for ``url`` with this database's options; raises StateError naming a missing driver."""

    def migration_guard(self, engine: Engine) -> AbstractContextManager[None]:
        """Held while the schema is created or migrated, so two processes never do it at once."""

    def lock(self, url: str) -> HeldLock | None:
        """Take the daemon lock; raises StoreLockedError naming the holder. None: no lock applies."""

    def holder(self, url: str) -> str | None:
        """Who holds the daemon lock (``pid 123 on host since ...``), or None when nobody does."""

    def upsert_statement(
        self, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]
    ) -> Insert:
        """One INSERT that replaces the non-key columns of a row whose ``keys`` already exist."""

    def is_transient(self, exc: BaseException) -> bool:
        """True when ``exc`` (or an exception it wraps) means "busy now, retry later"."""

    def size_bytes(self, engine: Engine) -> int | None:
        """The store's size on disk, when the database can tell."""

    def backup(self, url: str, dest: Path) -> None:
        """Write a consistent copy of the store to ``dest``: one self-contained SQLite file."""

    def load(self, url: str, src: Path) -> None:
        """Replace the store's tables and rows with those of the SQLite file ``src``."""

    def save_current(self, url: str, near: Path, stamp: str) -> Path | None:
        """Copy the store as it is before a restore; None when there is no store yet."""


BACKENDS: Mapping[str, StoreBackend] = {
    "sqlite": SqliteBackend(),
    "postgresql": PostgresBackend(),
}


def parse_url(url: str) -> URL:
    """``url`` parsed; raises StateError naming it when SQLAlchemy cannot read it."""
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise StateError(f"state URL {url!r} does not parse: {exc}") from None


def backend_for(url: str | URL) -> StoreBackend:
    """The backend for a state URL; raises StateError for a database modelhealthd does not support."""
    parsed = parse_url(url) if isinstance(url, str) else url
    name = parsed.get_backend_name()
    try:
        return BACKENDS[name]
    except KeyError:
        shown = parsed.render_as_string(hide_password=True)
        raise StateError(
            f"state URL {shown!r} names the database {name!r}; expected one of {sorted(BACKENDS)} "
            "(sqlite:///path/state.db or postgresql://user@host/db)"
        ) from None


def backend_of(conn: Connection | Engine) -> StoreBackend:
    """The backend of an open connection or engine."""
    return BACKENDS[conn.dialect.name]


def is_transient(exc: BaseException) -> bool:
    """True when any backend sees ``exc`` as a transient failure (callers that hold no store yet)."""
    return any(backend.is_transient(exc) for backend in BACKENDS.values())
