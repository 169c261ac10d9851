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
from monitor.state.daemon_lock import DaemonLock, StoreLockedError
from monitor.state.store import StateError, StateStore
from reoptimize.registry.file_registry import FileRegistry

DUMP_V1 = Path(__file__).parent / "data" / "state_v1.sql"


@pytest.fixture
def world(tmp_path: Path, store_url: str):
    url = store_url.replace(str(tmp_path), str(tmp_path / "state"))
    registry = FileRegistry(tmp_path / "registry")
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
