"""Choosing a backend by URL, and telling transient database errors from the rest, with errors
raised by the real databases (a SQLite file held by another writer, a real PostgreSQL server)."""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from monitor.jobs.worker import record
from monitor.state.backend import backend_for, is_transient
from monitor.state.store import StateError, StateStore
from tests.support.postgres import PostgresServer


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _raised(action) -> BaseException:  # noqa: ANN001
    with pytest.raises(Exception) as caught:
        action()
    return caught.value


def test_a_postgresql_url_without_a_driver_uses_psycopg(postgres_url: str) -> None:
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    store = StateStore.open(plain)
    try:
        assert (store.engine.dialect.name, store.engine.dialect.driver) == ("postgresql", "psycopg")
        store.decisions.append(1.0, "transition", "through postgresql://")
        assert [d.message for d in store.decisions.list()] == ["through postgresql://"]
    finally:
        store.close()


def test_a_missing_driver_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # Uninstalling psycopg is not possible here; a None entry makes `import psycopg` fail the same way.
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(StateError, match=r"driver 'psycopg'.*pip install 'modelhealthd\[postgresql\]'"):
        StateStore.open("postgresql://modelhealthd:secret@127.0.0.1:1/state")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@db.example/state", "names the database 'mysql'; expected one of"),
        ("not a url", "does not parse"),
    ],
)
def test_an_unsupported_url_is_refused_naming_it(url: str, message: str) -> None:
    with pytest.raises(StateError, match=message):
        StateStore.open(url)


def test_passwords_stay_out_of_state_errors() -> None:
    port = _free_port()  # nothing listens there
    error = _raised(lambda: StateStore.open(f"postgresql://u:hunter2@127.0.0.1:{port}/state"))
    assert isinstance(error, StateError) and "hunter2" not in str(error) and "***" in str(error)


def test_sqlite_busy_is_transient_and_other_errors_are_not(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    store = StateStore.open(url)
    blocker = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        writer = sqlite3.connect(tmp_path / "state.db", timeout=0.05)
        busy = _raised(lambda: writer.execute("INSERT INTO meta (key, value) VALUES ('x', '1')"))
        writer.close()
    finally:
        blocker.rollback()
        blocker.close()
    assert "database is locked" in str(busy)
    assert store.is_transient(busy) and is_transient(busy)
    with store.engine.connect() as conn:
        missing = _raised(lambda: conn.execute(text("SELECT * FROM no_such_table")))
    assert isinstance(missing, DBAPIError) and not store.is_transient(missing) and not is_transient(missing)
    store.close()


def test_postgresql_lock_timeouts_serialization_failures_and_lost_servers_are_transient(
    postgres_url: str,
) -> None:
    store = StateStore.open(postgres_url)
    job = store.jobs.create("m", "retrain", {}, {}, now=1.0)
    other = create_engine(postgres_url, poolclass=NullPool)
    try:
        # lock_not_available (55P03): another session holds the table.
        with other.connect() as holder, store.engine.connect() as waiter:
            holder.execute(text("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE"))
            waiter.execute(text("SET lock_timeout = '50ms'"))
            timed_out = _raised(lambda: waiter.execute(text("SELECT * FROM jobs")))
            holder.rollback()
        assert getattr(getattr(timed_out, "orig", None), "sqlstate", None) == "55P03"
        assert store.is_transient(timed_out) and is_transient(timed_out)

        # serialization_failure (40001): a REPEATABLE READ writer loses to a concurrent update.
        with store.engine.connect().execution_options(isolation_level="REPEATABLE READ") as reader:
            reader.execute(text("SELECT state FROM jobs")).all()
            with other.begin() as writer:
                writer.execute(text("UPDATE jobs SET state = 'running' WHERE id = :id"), {"id": job.id})
            lost = _raised(
                lambda: reader.execute(
                    text("UPDATE jobs SET state = 'failed' WHERE id = :id"), {"id": job.id}
                )
            )
        assert getattr(getattr(lost, "orig", None), "sqlstate", None) == "40001"
        assert store.is_transient(lost)

        # Errors of the query itself are not transient.
        with store.engine.connect() as conn:
            missing = _raised(lambda: conn.execute(text("SELECT * FROM no_such_table")))
            duplicate = _raised(
                lambda: conn.execute(text("INSERT INTO meta (key, value) VALUES ('schema_version', '1')"))
            )
        assert not store.is_transient(missing) and not store.is_transient(duplicate)
    finally:
        other.dispose()
        store.close()

    # No server at all: psycopg's connection failure, wrapped in a StateError, is transient.
    unreachable = _raised(lambda: StateStore.open(f"postgresql://u@127.0.0.1:{_free_port()}/state"))
    assert isinstance(unreachable, StateError) and is_transient(unreachable)


def test_a_worker_record_waits_out_a_locked_postgresql_table(postgres_url: str) -> None:
    StateStore.open(postgres_url).close()
    # Every session of this store gives up on a lock after 100 ms, so a held table fails fast.
    store = StateStore(create_engine(postgres_url, connect_args={"options": "-c lock_timeout=100"}))
    job = store.jobs.create("m", "retrain", {}, {}, now=1.0)
    other = create_engine(postgres_url, poolclass=NullPool)
    locked, attempts = threading.Event(), []

    def hold_the_table() -> None:
        with other.connect() as holder:
            holder.execute(text("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE"))
            locked.set()
            time.sleep(1.0)  # long enough for the first attempts to time out
            holder.rollback()

    def finish() -> bool:
        attempts.append(1)
        return store.jobs.finish(job.id, "succeeded", 2.0)

    thread = threading.Thread(target=hold_the_table)
    thread.start()
    try:
        assert locked.wait(10)
        assert record(finish, "finishing the job", budget=30) is True
    finally:
        thread.join(10)
    assert len(attempts) >= 2, "the first attempt should have met the lock"
    assert store.jobs.get(job.id).state == "succeeded"

    def bad_query() -> None:
        attempts.append(1)
        with store.engine.connect() as conn:
            conn.execute(text("SELECT * FROM nope"))

    attempts.clear()
    with pytest.raises(DBAPIError):
        record(bad_query, "a bad query", budget=30)
    assert len(attempts) == 1, "a query error is not retried"
    other.dispose()
    store.close()


def test_backends_are_chosen_by_the_url(tmp_path: Path, postgres_server: PostgresServer) -> None:
    assert backend_for(f"sqlite:///{tmp_path}/s.db").name == "sqlite"
    assert backend_for(postgres_server.url("x")).name == "postgresql"
    assert backend_for("postgresql://h/db").name == "postgresql"
