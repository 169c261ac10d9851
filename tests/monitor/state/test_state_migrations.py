"""Schema migrations: a store written by every older schema opens, migrates and ends up like a fresh one."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from monitor.state import migrations, schema
from monitor.state.store import StateError, StateStore

DATA = Path(__file__).parent / "data"
OLD_STORES = {1: DATA / "state_v1.sql"}  # add the dump of each retired schema version here


def _load_dump(version: int, path: Path) -> str:
    con = sqlite3.connect(path)
    con.executescript(OLD_STORES[version].read_text())
    con.close()
    return f"sqlite:///{path}"


def _shape(url: str) -> dict[str, object]:
    """Tables with their columns, and indexes with their columns: what must match a fresh store."""
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


def test_migrations_are_numbered_up_to_the_schema_version() -> None:
    migrations.check_sequence(schema.SCHEMA_VERSION)
    assert migrations.latest_version() == schema.SCHEMA_VERSION
    assert set(OLD_STORES) == set(range(1, schema.SCHEMA_VERSION)), "keep a dump of every older schema"


@pytest.mark.parametrize("version", sorted(OLD_STORES))
def test_an_old_store_migrates_forward_and_keeps_its_data(version: int, tmp_path: Path) -> None:
    url = _load_dump(version, tmp_path / "old.db")
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
    finally:
        store.close()

    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    StateStore.open(fresh).close()
    assert _shape(url) == _shape(fresh)

    # Opening again is a no-op.
    StateStore.open(url).close()
    assert _shape(url) == _shape(fresh)


def test_a_store_newer_than_this_version_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    StateStore.open(url).close()
    con = sqlite3.connect(tmp_path / "new.db")
    con.execute(
        "UPDATE meta SET value = ? WHERE key = 'schema_version'", (json.dumps(schema.SCHEMA_VERSION + 1),)
    )
    con.commit()
    con.close()
    with pytest.raises(StateError, match=f"version {schema.SCHEMA_VERSION + 1} is newer"):
        StateStore.open(url)


def test_a_failing_migration_leaves_the_store_at_its_old_version(tmp_path: Path, monkeypatch) -> None:
    url = _load_dump(1, tmp_path / "old.db")
    broken = migrations.Migration(2, "broken", ("CREATE INDEX ix_x ON no_such_table (x)",))
    monkeypatch.setattr(migrations, "MIGRATIONS", (broken,))
    with pytest.raises(StateError, match="no_such_table"):
        StateStore.open(url)
    con = sqlite3.connect(tmp_path / "old.db")
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
    con.close()
