"""A real PostgreSQL server (Debian's ``postgresql`` 15) for tests: one per session, a fresh
database per test, the server stopped and its directory removed at the end.

    server = PostgresServer.start()     # initdb + pg_ctl start on a free loopback port
    url = server.create_database()      # postgresql+psycopg://postgres@127.0.0.1:PORT/t_...
    server.drop_database(url)
    server.stop()

The fixtures below are registered for every test by ``tests/conftest.py``: ``store_url`` runs a
test once on a SQLite file and once on a fresh PostgreSQL database, the way APScheduler runs
its data-store tests against every backend. A missing server binary fails the test (it does
not skip): install it with ``make system-deps``.

The server refuses to run as root, so as root initdb and pg_ctl run as the ``postgres`` user
in a directory it owns. By hand: ``python -m tests.support.postgres`` starts one and prints
a database URL, until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tests.support.binaries import postgres_binary

SERVER_USER = "postgres"  # the OS user the server runs as when the tests run as root
DRIVER = "postgresql+psycopg"
# Durability is not what these tests check; without fsync a database is created in milliseconds.
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=300")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    if shutil.which("runuser") is None:
        pytest.fail("runuser is missing: the tests run as root and must start PostgreSQL as 'postgres'")
    return ["runuser", "-u", SERVER_USER, "--", *argv]


def _run(argv: list[str], what: str, log: Path | None = None) -> None:
    done = subprocess.run(_as_server_user(argv), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
        raise RuntimeError(f"{what} failed ({done.returncode}): {done.stderr.strip()} {tail}")


class PostgresServer:
    """One running server in a temporary directory, reached on 127.0.0.1 with trust auth."""

    def __init__(self, root: Path, port: int):
        self.root = root
        self.data = root / "data"
        self.log = root / "server.log"
        self.port = port
        self.admin = create_engine(self.url("postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT")

    @classmethod
    def start(cls, attempts: int = 3) -> PostgresServer:
        """initdb a fresh cluster and start it; retries on another port if one was taken meanwhile."""
        initdb, pg_ctl = postgres_binary("initdb"), postgres_binary("pg_ctl")
        postgres_binary("postgres")
        root = Path(tempfile.mkdtemp(prefix="modelhealthd-pg-"))
        if os.geteuid() == 0:
            shutil.chown(root, SERVER_USER, SERVER_USER)
        argv = [str(initdb), "-D", str(root / "data"), "-A", "trust", "-U", "postgres"]
        _run([*argv, "-E", "UTF8", "--locale=C", "--no-sync"], "initdb")
        for attempt in range(attempts):
            server = cls(root, _free_port())
            options = " ".join(
                [f"-p {server.port}", f"-k {root}", "-c listen_addresses=127.0.0.1"]
                + [f"-c {setting}" for setting in FAST_SETTINGS]
            )
            argv = [str(pg_ctl), "-D", str(server.data), "-o", options, "-l", str(server.log)]
            try:
                _run([*argv, "-w", "-t", "60", "start"], "pg_ctl start", server.log)
                return server
            except RuntimeError:
                if attempt == attempts - 1:
                    shutil.rmtree(root, ignore_errors=True)
                    raise
        raise AssertionError("unreachable")

    def url(self, database: str) -> str:
        return f"{DRIVER}://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by :meth:`create_database`, ending any session still in it."""
        name = make_url(url).database
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def stop(self) -> None:
        self.admin.dispose()
        pg_ctl = postgres_binary("pg_ctl")
        try:
            _run([str(pg_ctl), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"], "pg_ctl stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server, started on first use."""
    server = PostgresServer.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh database on the session's server, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A state store URL: a SQLite file in ``tmp_path``, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state.db"
    return str(request.getfixturevalue("postgres_url"))


if __name__ == "__main__":
    import signal
    import time

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop cleanly on SIGTERM too
    running = PostgresServer.start()
    print(running.create_database(), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
