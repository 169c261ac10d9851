"""The daemon lock of a PostgreSQL store: a session-level advisory lock on a dedicated connection.

PostgreSQL drops a session's advisory locks when the session ends, so a daemon that dies (its
connection closes) leaves no stale lock; the server-side TCP keepalives set below make that
happen within about a minute even when the daemon's host vanishes without closing the socket.
The holder is named by the lock itself: the holding session's ``application_name`` carries
``pid ... on ... since ...``, and :func:`advisory_holder` finds it through ``pg_locks``, so no
table row can go stale. Advisory locks are per database, so each database is one store.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from monitor.state.errors import StoreLockedError

NAMESPACE = 0x6D686C64  # "mhld": the first key of every modelhealthd advisory lock
DAEMON_KEY = 1  # held by the daemon (and by a restore) for its lifetime
MIGRATION_KEY = 2  # held while a process creates or migrates the schema
APPLICATION_PREFIX = "modelhealthd "
NAME_LIMIT = 63  # PostgreSQL truncates application_name to NAMEDATALEN - 1 bytes

_SESSION_SETTINGS = (
    ("tcp_keepalives_idle", "30"),
    ("tcp_keepalives_interval", "10"),
    ("tcp_keepalives_count", "3"),
)

_HOLDER = text(
    "SELECT l.pid, a.application_name FROM pg_locks l "
    "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
    "AND l.classid::bigint = :k1 AND l.objid::bigint = :k2 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def application_name(who: str) -> str:
    """``modelhealthd <who>`` cut to what PostgreSQL keeps (ASCII, 63 bytes)."""
    name = (APPLICATION_PREFIX + who).encode("ascii", "replace").decode("ascii")
    return name[:NAME_LIMIT]


def advisory_holder(conn: Connection, key: int = DAEMON_KEY) -> str | None:
    """Who holds the advisory lock ``key`` in this database, or None."""
    row = conn.execute(_HOLDER, {"k1": NAMESPACE, "k2": key}).first()
    conn.rollback()
    if row is None:
        return None
    name = row.application_name or ""
    if name.startswith(APPLICATION_PREFIX):
        return name.removeprefix(APPLICATION_PREFIX)
    return f"an unknown process (PostgreSQL backend pid {row.pid}, application {name!r})"


class AdvisoryLock:
    """The daemon lock, held on its own connection from :meth:`acquire` to :meth:`release`."""

    def __init__(self, shown_url: str, engine: Engine):
        self.shown_url = shown_url
        self.engine = engine  # a NullPool engine: closing the connection really ends the session
        self._conn: Connection | None = None

    def acquire(self, who: str) -> AdvisoryLock:
        """Take the lock, naming ``who``; raises StoreLockedError naming the current holder."""
        conn = self.engine.connect()
        try:
            conn.execute(
                text("SELECT set_config('application_name', :v, false)"), {"v": application_name(who)}
            )
            for name, value in _SESSION_SETTINGS:
                conn.execute(text("SELECT set_config(:n, :v, false)"), {"n": name, "v": value})
            took = conn.execute(
                text("SELECT pg_try_advisory_lock(:k1, :k2)"), {"k1": NAMESPACE, "k2": DAEMON_KEY}
            ).scalar_one()
            conn.commit()  # the lock is the session's, not the transaction's: nothing stays open
            holder = None if took else advisory_holder(conn)
        except BaseException:
            conn.close()
            self.engine.dispose()
            raise
        if not took:
            conn.close()
            self.engine.dispose()
            raise StoreLockedError(
                f"the state store {self.shown_url} is in use by {holder or 'another process'}; "
                f"stop that daemon first (PostgreSQL advisory lock ({NAMESPACE}, {DAEMON_KEY}))"
            )
        self._conn = conn
        return self

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(Exception):  # a dead connection has released the lock already
            conn.execute(text("SELECT pg_advisory_unlock(:k1, :k2)"), {"k1": NAMESPACE, "k2": DAEMON_KEY})
            conn.commit()
        with contextlib.suppress(Exception):
            conn.close()
        self.engine.dispose()


@contextlib.contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Hold the migration advisory lock (waiting for another migrator) for the ``with`` block."""
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k1, :k2)"), {"k1": NAMESPACE, "k2": MIGRATION_KEY})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k1, :k2)"), {"k1": NAMESPACE, "k2": MIGRATION_KEY})
            conn.commit()
