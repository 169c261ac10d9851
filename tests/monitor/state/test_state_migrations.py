"""Schema migrations: a store written by every older schema opens, migrates and ends up like a
fresh one, on a SQLite file and on a real PostgreSQL database.

The retired schemas are kept as SQLite dumps. A PostgreSQL store of an older version is made
from the same dump the way a restore writes it (the backend's ``load``),
which creates the tables as SQLAlchemy's ``create_all`` did in that version: generic column
types and a sequence behind every integer id.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from monitor.state import migrations, schema
from monitor.state.backend import backend_for
from monitor.state.store import StateError, StateStore

DATA = Path(__file__).parent / "data"
OLD_STORES = {1: DATA / "state_v1.sql"}  # add the dump of each retired schema version here


def _load_dump(version: int, path: Path, url: str | None = None) -> str:
    """The store ``url`` (default: the SQLite file ``path``) as the old version left it."""
    con = sqlite3.connect(path)
    con.executescript(OLD_STORES[version].read_text())
    con.close()
    if url is None or url.startswith("sqlite"):
        return f"sqlite:///{path}"
    backend_for(url).load(url, path)
    return url


def _shape(url: str) -> dict[str, object]:
    """Tables with their columns, and indexes with their columns: what must match a fresh store."""
    if not url.startswith("sqlite"):
        return _server_shape(url)
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        tables = [
            r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        ]
        shape: dict[str, object] = {}
        for table in tables:
            shape[table] = [
                (c[1], c[2].upper(), c[3], c[5]) for c in con.execute(f"PRAGMA table_info({table})")
            ]
            for index in con.execute(f"PRAGMA index_list({table})"):
                if not index[1].startswith("sqlite_autoindex"):
                    shape[f"{table}.{index[1]}"] = [
                        c[2] for c in con.execute(f"PRAGMA index_info({index[1]})")
                    ]
        return shape
    finally:
        con.close()


def _server_shape(url: str) -> dict[str, object]:
    """The same for a database server, through SQLAlchemy's inspector (types, defaults, keys)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            found = inspect(conn)
            shape: dict[str, object] = {}
            for table in sorted(found.get_table_names()):
                shape[table] = [
                    (c["name"], str(c["type"]), c["nullable"], str(c.get("default")).split("_seq")[0])
                    for c in found.get_columns(table)
                ]
                shape[f"{table}.pk"] = found.get_pk_constraint(table)["constrained_columns"]
                shape[f"{table}.unique"] = sorted(
                    (u["name"], tuple(u["column_names"])) for u in found.get_unique_constraints(table)
                )
                for index in found.get_indexes(table):
                    shape[f"{table}.{index['name']}"] = index["column_names"]
            return shape
    finally:
        engine.dispose()


def test_migrations_are_numbered_up_to_the_schema_version() -> None:
    migrations.check_sequence(schema.SCHEMA_VERSION)
    assert migrations.latest_version() == schema.SCHEMA_VERSION
    assert set(OLD_STORES) == set(range(1, schema.SCHEMA_VERSION)), "keep a dump of every older schema"


@pytest.mark.parametrize("version", sorted(OLD_STORES))
def test_an_old_store_migrates_forward_and_keeps_its_data(
    version: int, tmp_path: Path, store_url: str, request: pytest.FixtureRequest
) -> None:
    url = _load_dump(version, tmp_path / "old.db", store_url)
    store = StateStore.open(url)
    try:
        with store.engine.connect() as conn:
            meta = dict(conn.exec_driver_sql("SELECT key, value FROM meta").all())
        assert json.loads(meta["schema_version"]) == schema.SCHEMA_VERSION
        for m in migrations.pending(version):
            assert json.loads(meta[f"migration_{m.version}"])["description"] == m.description

        # The data written by the old version reads back through today's repositories.
        (job,) = store.jobs.list("churn")
        assert (job.state, job.candidate_version, job.result["verdict"]["passed"]) == ("succeeded", "2", True)
        (promotion,) = store.promotions.list("churn")
        assert (promotion.state, promotion.to_version) == ("done", "2")
        assert store.rule_states.load("churn")[("drift", "churn")]["state"] == "firing"
        assert store.checks.latest("churn").measurements["rows"] == 500.0
        assert [d.kind for d in store.decisions.list("churn")] == ["promotion"]
        # New rows get ids after the old ones (a PostgreSQL sequence moved past them).
        assert store.decisions.append(1.0, "transition", "after the migration") == 2
    finally:
        store.close()

    if url.startswith("sqlite"):
        fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        fresh = request.getfixturevalue("postgres_server").create_database()
    StateStore.open(fresh).close()
    assert _shape(url) == _shape(fresh)

    # Opening again is a no-op.
    StateStore.open(url).close()
    assert _shape(url) == _shape(fresh)


def _set_version(url: str, value: int) -> None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE meta SET value = :v WHERE key = 'schema_version'"), {"v": json.dumps(value)}
        )
    engine.dispose()


def _stored_version(url: str) -> str:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        value = conn.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).scalar_one()
    engine.dispose()
    return value


def test_a_store_newer_than_this_version_is_refused(store_url: str) -> None:
    StateStore.open(store_url).close()
    _set_version(store_url, schema.SCHEMA_VERSION + 1)
    with pytest.raises(StateError, match=f"version {schema.SCHEMA_VERSION + 1} is newer"):
        StateStore.open(store_url)


def test_a_failing_migration_leaves_the_store_at_its_old_version(
    tmp_path: Path, store_url: str, monkeypatch
) -> None:
    url = _load_dump(1, tmp_path / "old.db", store_url)
    broken = migrations.Migration(2, "broken", ("CREATE INDEX ix_x ON no_such_table (x)",))
    monkeypatch.setattr(migrations, "MIGRATIONS", (broken,))
    with pytest.raises(StateError, match="no_such_table"):
        StateStore.open(url)
    assert _stored_version(url) == "1"
