"""State backup and restore on a real SQLite file and a real PostgreSQL database, with a real
registry, in-process and through the CLI. A backup is a SQLite file whatever the store is."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from monitor.cli import app
from monitor.state.backup import backup, read_backup, restore
from monitor.state.daemon_lock import DaemonLock, StoreLockedError, holder
from monitor.state.store import StateError, StateStore
from reoptimize.registry.backends import open_registry

DUMP_V1 = Path(__file__).parent / "data" / "state_v1.sql"


@pytest.fixture
def world(tmp_path: Path, store_url: str):
    url = store_url.replace(str(tmp_path), str(tmp_path / "state"))
    registry = open_registry(tmp_path / "registry")
    for i in (1, 2):
        registry.add_version("m", {"model.onnx": f"model {i}".encode()})
    registry.set_production("m", "1")
    store = StateStore.open(url)
    for i in range(5):
        store.decisions.append(float(i), "transition", f"decision {i}", model="m")
    store.close()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"state": url, "registry": str(tmp_path / "registry")}))
    return url, registry, config, tmp_path


def _decisions(url: str) -> list[str]:
    store = StateStore.open(url)
    try:
        return [d.message for d in reversed(store.decisions.list(limit=1000))]
    finally:
        store.close()


def test_backup_is_consistent_while_the_store_is_being_written(world) -> None:
    url, registry, _, tmp = world
    stop = threading.Event()

    def writer() -> None:
        store = StateStore.open(url)
        n = 0
        while not stop.is_set():
            store.decisions.append(float(n), "transition", f"busy {n}", model="m")
            n += 1
        store.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        info = backup(url, tmp / "b1.db", registry)
    finally:
        stop.set()
        thread.join(10)
    assert info.pointers == {"m": "1"} and info.schema_version >= 2
    assert read_backup(tmp / "b1.db") == info
    assert not (tmp / "b1.db-wal").exists() and not (tmp / "b1.db.partial").exists()
    con = sqlite3.connect(tmp / "b1.db")
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    con.close()
    with pytest.raises(StateError, match="already exists"):
        backup(url, tmp / "b1.db", registry)


def test_restore_brings_back_the_store_and_optionally_the_pointers(world) -> None:
    url, registry, _, tmp = world
    backup(url, tmp / "b.db", registry)
    before = _decisions(url)
    store = StateStore.open(url)
    store.decisions.append(99.0, "promotion", "after the backup", model="m")
    store.close()
    registry.set_production("m", "2")

    kept = restore(url, tmp / "b.db", registry)
    assert _decisions(url) == before
    assert kept.pointer_changes == {"m": ("2", "1")} and kept.pointers_moved == ()
    assert registry.production("m") == "2"
    assert kept.saved_current is not None and "after the backup" in kept.saved_current.read_bytes().decode(
        errors="replace"
    )

    moved = restore(url, tmp / "b.db", registry, restore_pointers=True)
    assert moved.pointers_moved == ("m",) and registry.production("m") == "1"
    assert _decisions(url)[-1] == "m: production moved from v2 to v1 by a state restore"


def test_restore_refuses_while_a_daemon_holds_the_store(world) -> None:
    url, registry, config, tmp = world
    backup(url, tmp / "b.db", registry)
    lock = DaemonLock(url)
    lock.acquire()
    try:
        with pytest.raises(StoreLockedError, match="in use by pid"):
            restore(url, tmp / "b.db", registry)
        result = CliRunner().invoke(app, ["state", "restore", str(tmp / "b.db"), "-c", str(config)])
        assert result.exit_code == 3
        assert "stop that daemon first" in result.output
    finally:
        lock.release()
    assert CliRunner().invoke(app, ["state", "restore", str(tmp / "b.db"), "-c", str(config)]).exit_code == 0


def test_an_old_backup_is_migrated_forward_on_restore(world) -> None:
    url, registry, _, tmp = world
    con = sqlite3.connect(tmp / "v1.db")
    con.executescript(DUMP_V1.read_text())
    con.close()
    info = backup(f"sqlite:///{tmp / 'v1.db'}", tmp / "v1-backup.db")
    assert info.schema_version == 1
    result = restore(url, tmp / "v1-backup.db", registry)
    assert result.schema_version >= 2 and result.info.schema_version == 1
    assert _decisions(url) == ["churn: promoted v2 (was v1)"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a database at all, just some bytes" * 100, "not a"),
        (None, "no backup record"),  # a plain state store, not made by `state backup`
    ],
)
def test_bad_backup_files_are_refused_before_anything_changes(world, content, message) -> None:
    url, registry, _, tmp = world
    path = tmp / "bad.db"
    if content is None:
        StateStore.open(f"sqlite:///{path}").close()
    else:
        path.write_bytes(content)
    before = _decisions(url)
    with pytest.raises(StateError, match=message):
        restore(url, path, registry)
    assert _decisions(url) == before


def test_state_commands_print_json(world) -> None:
    url, _, config, tmp = world
    runner = CliRunner()
    info = runner.invoke(app, ["state", "info", "-c", str(config), "--json"])
    assert info.exit_code == 0, info.output
    data = json.loads(info.output)
    assert data["schema_version"] == data["supported_schema_version"] and data["daemon"] is None
    assert data["rows"]["decisions"] == 5
    made = runner.invoke(app, ["state", "backup", str(tmp / "c.db"), "-c", str(config), "--json"])
    assert made.exit_code == 0 and json.loads(made.output)["pointers"] == {"m": "1"}
    again = runner.invoke(app, ["state", "backup", str(tmp / "c.db"), "-c", str(config)])
    assert again.exit_code == 1 and "already exists" in again.output
    done = runner.invoke(app, ["state", "restore", str(tmp / "c.db"), "-c", str(config), "--json"])
    assert done.exit_code == 0 and json.loads(done.output)["pointer_changes"] == {}
    migrated = runner.invoke(app, ["state", "migrate", "-c", str(config), "--json"])
    assert migrated.exit_code == 0 and "schema_version" in json.loads(migrated.output)


def _everything(url: str) -> dict[str, object]:
    """What every repository reads back, for comparing two stores."""
    store = StateStore.open(url)
    try:
        return {
            "jobs": [j.to_json() for j in store.jobs.list(limit=1000)],
            "promotions": [p.to_json() for p in store.promotions.list(limit=1000)],
            "decisions": [d.to_json() for d in store.decisions.list(limit=1000)],
            "checks": [c.to_json() for c in store.checks.list(limit=1000)],
            "labels": dict(store.labels.since("m", 0)),
            "rule_states": store.rule_states.load(),
            "alerts": [a.to_json() for a in store.alerts.list(limit=1000)],
        }
    finally:
        store.close()


def test_a_backup_moves_a_store_from_sqlite_to_postgresql_and_back(tmp_path: Path, postgres_url: str) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'a.db'}"
    store = StateStore.open(sqlite_url)
    job = store.jobs.create("m", "retrain", {"max_epochs": 2}, {"rule": "drift"}, now=1.0, rule="drift")
    store.jobs.mark_running(job.id, 2.0)
    store.jobs.finish(job.id, "succeeded", 3.0, result={"verdict": {"passed": True}}, candidate_version="2")
    intent = store.promotions.record_intent("m", "1", "2", "promote", "better", 4.0, job.id)
    store.promotions.finish(intent, "done", 5.0, decision={"kind": "promotion", "message": "promoted v2"})
    store.checks.record("m", "2", 6.0, {"rows": 500.0, "drift_share": None}, {"features": []})
    store.labels.add("m", [("r1", 1, 7.0), ("r2", "cat", 7.5)])
    store.rule_states.save("m", {"drift": {"state": "firing"}}, 8.0)
    store.alerts.receive("grafana", "g", "f", "2026-01-01T00:00:00Z", "firing", {"labels": {}}, 9.0)
    store.close()
    before = _everything(sqlite_url)

    backup(sqlite_url, tmp_path / "from-sqlite.db")
    restore(postgres_url, tmp_path / "from-sqlite.db")
    assert _everything(postgres_url) == before
    moved = StateStore.open(postgres_url)
    try:  # new rows get fresh ids after the restored ones
        assert moved.decisions.append(10.0, "transition", "on postgresql") > max(
            d["id"] for d in before["decisions"]
        )
    finally:
        moved.close()

    backup(postgres_url, tmp_path / "from-postgresql.db")
    back = f"sqlite:///{tmp_path / 'b.db'}"
    restore(back, tmp_path / "from-postgresql.db")
    assert _everything(back) == _everything(postgres_url)
    assert _decisions(back)[-1] == "on postgresql"


def test_a_restore_that_fails_midway_leaves_a_postgresql_store_as_it_was(
    tmp_path: Path, postgres_url: str
) -> None:
    store = StateStore.open(postgres_url)
    store.decisions.append(1.0, "transition", "before the backup", model="m")
    store.close()
    backup(postgres_url, tmp_path / "b.db")
    con = sqlite3.connect(tmp_path / "b.db")  # SQLite keeps any value in any column; PostgreSQL will not
    con.execute(
        "INSERT INTO decisions (id, at, kind, message, data) VALUES (999, 'not a number', 'x', 'y', '{}')"
    )
    con.commit()
    con.close()
    store = StateStore.open(postgres_url)
    store.decisions.append(2.0, "transition", "after the backup", model="m")
    store.close()
    with pytest.raises(StateError, match="cannot restore into the state store .*not a number"):
        restore(postgres_url, tmp_path / "b.db")
    # The tables were dropped, recreated and filled in one transaction, all rolled back.
    assert _decisions(postgres_url) == ["before the backup", "after the backup"]
    assert holder(postgres_url) is None  # the failed restore gave its lock back
