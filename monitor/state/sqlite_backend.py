"""SQLite: a file in the state directory, WAL journal, an flock for the daemon, online backup."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Table, create_engine, event
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.engine import URL, Engine
from sqlalchemy.sql.dml import Insert

from monitor.state.errors import StateError, causes
from monitor.state.file_lock import FileLock, file_holder, lock_path
from monitor.state.lock_holder import describe_this_process

BUSY_MESSAGES = ("database is locked", "database is busy")  # SQLITE_LOCKED, SQLITE_BUSY


def database_file(url: str) -> Path:
    """The database file of a ``sqlite:///`` URL; in-memory databases have none."""
    path = lock_path(url)
    if path is None:
        raise StateError(f"state store {url!r} is not a SQLite file (expected sqlite:///path/state.db)")
    return path.with_name(path.name.removesuffix(".lock"))


def _pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def copy_database(source: Path, target: Path, *, read_only_source: bool = False) -> None:
    """Copy ``source`` into ``target`` with SQLite's online backup API (consistent while written)."""
    uri = f"file:{source}?mode=ro" if read_only_source else str(source)
    src = sqlite3.connect(uri, uri=read_only_source, timeout=30)
    try:
        with contextlib.closing(sqlite3.connect(target, timeout=30)) as dst:
            src.backup(dst)
    finally:
        src.close()


class SqliteBackend:
    """The default store: ``sqlite:///<state dir>/state.db``."""

    name = "sqlite"

    def make_engine(self, url: URL) -> Engine:
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_pre_ping=True)
        event.listen(engine, "connect", _pragmas)
        return engine

    @contextlib.contextmanager
    def migration_guard(self, engine: Engine) -> Iterator[None]:
        yield  # SQLite lets one writer in at a time already

    def lock(self, url: str) -> FileLock | None:
        path = lock_path(url)
        return None if path is None else FileLock(url, path).acquire(describe_this_process())

    def holder(self, url: str) -> str | None:
        path = lock_path(url)
        return None if path is None else file_holder(path)

    def upsert_statement(
        self, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]
    ) -> Insert:
        stmt = insert(table).values(list(rows))
        others = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
        return stmt.on_conflict_do_update(index_elements=list(keys), set_=others)

    def is_transient(self, exc: BaseException) -> bool:
        for cause in causes(exc):
            first_line = (str(cause).splitlines() or [""])[0]
            if any(message in first_line for message in BUSY_MESSAGES):
                return True
        return False

    def size_bytes(self, engine: Engine) -> int | None:
        database = engine.url.database
        if not database or database == ":memory:" or not Path(database).exists():
            return None
        return Path(database).stat().st_size

    def backup(self, url: str, dest: Path) -> None:
        db = database_file(url)
        if not db.exists():
            raise StateError(f"there is no state store at {db}")
        copy_database(db, dest)

    def load(self, url: str, src: Path) -> None:
        db = database_file(url)
        db.parent.mkdir(parents=True, exist_ok=True)
        copy_database(src, db, read_only_source=True)

    def save_current(self, url: str, near: Path, stamp: str) -> Path | None:
        db = database_file(url)
        if not db.exists():
            return None
        saved = db.with_name(f"{db.name}.before-restore-{stamp}")
        copy_database(db, saved)
        with contextlib.closing(sqlite3.connect(saved)) as copy:
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        return saved
