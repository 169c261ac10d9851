"""Backup and restore of the state store, with the registry's production pointers.

A backup is one self-contained SQLite file, whatever database the store lives in: SQLite's
online backup API copies a SQLite store, and a PostgreSQL store is copied table by table in
one snapshot (:mod:`monitor.state.postgres_backend`). Either way a running daemon keeps
working while it is taken and the copy is consistent. The copy's ``meta`` table gets a
``backup`` row: when, from where, its schema version, and every model's production pointer
at that moment (version directories never change, so the pointers are what a registry backup
needs besides the files themselves).

A restore refuses while a daemon holds the store (see :mod:`monitor.state.daemon_lock`) and
holds the lock itself meanwhile. It checks the backup's integrity and version, saves the
current store (beside a SQLite store; beside the backup file for PostgreSQL), copies the
backup in, migrates it forward, and can move the production pointers back to the backup's.
A backup restores into either database, so it also moves a store from SQLite to PostgreSQL.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from monitor.state import schema
from monitor.state.backend import backend_for
from monitor.state.daemon_lock import DaemonLock
from monitor.state.store import StateError, StateStore, display_url, make_engine
from reoptimize.registry.atomic_files import fsync_dir
from reoptimize.registry.registry import Registry
from reoptimize.registry.registry_errors import RegistryError

BACKUP_FORMAT = 1


@dataclass(frozen=True)
class BackupInfo:
    format: int
    created_at: float
    source: str
    schema_version: int
    pointers: dict[str, str | None]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RestoreResult:
    info: BackupInfo
    schema_version: int  # after migrating forward
    saved_current: Path | None  # the store as it was before the restore
    pointer_changes: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    pointers_moved: tuple[str, ...] = ()
    pointers_left: dict[str, str] = field(default_factory=dict)  # model -> why it was not moved

    def to_json(self) -> dict[str, Any]:
        return {
            "backup": self.info.to_json(),
            "schema_version": self.schema_version,
            "saved_current": str(self.saved_current) if self.saved_current else None,
            "pointer_changes": {m: list(c) for m, c in self.pointer_changes.items()},
            "pointers_moved": list(self.pointers_moved),
            "pointers_left": self.pointers_left,
        }


def _pointers(registry: Registry | None) -> dict[str, str | None]:
    if registry is None:
        return {}
    out = {}
    for model in registry.models():
        try:
            out[model] = registry.production(model)
        except RegistryError:
            out[model] = None
    return out


def backup(url: str, dest: Path, registry: Registry | None = None, overwrite: bool = False) -> BackupInfo:
    """Write a consistent copy of the store at ``url`` (and the registry's pointers) to ``dest``."""
    store_backend = backend_for(url)
    dest = Path(dest)
    if dest.exists() and not overwrite:
        raise StateError(f"{dest} already exists; choose another file or pass --force")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        store_backend.backup(url, partial)
        copy = sqlite3.connect(partial)
        try:
            version = _schema_version(copy, dest)
            info = BackupInfo(BACKUP_FORMAT, time.time(), display_url(url), version, _pointers(registry))
            copy.execute("DELETE FROM meta WHERE key = 'backup'")
            copy.execute("INSERT INTO meta (key, value) VALUES ('backup', ?)", (json.dumps(info.to_json()),))
            copy.commit()
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            _check_integrity(copy, partial)
        finally:
            copy.close()
        with open(partial, "rb+") as handle:
            os.fsync(handle.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, dest)
    fsync_dir(dest.parent)
    return info


def read_backup(path: Path) -> BackupInfo:
    """Check a backup file and return what it holds; raises :class:`StateError` naming the problem."""
    path = Path(path)
    if not path.is_file():
        raise StateError(f"{path} is not a file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StateError(f"{path} is not a SQLite database: {exc}") from None
    try:
        _check_integrity(conn, path)
        _schema_version(conn, path)
        row = conn.execute("SELECT value FROM meta WHERE key = 'backup'").fetchone()
    except sqlite3.Error as exc:
        raise StateError(f"{path} is not a modelhealthd backup: {exc}") from None
    finally:
        conn.close()
    if row is None:
        raise StateError(f"{path} has no backup record; make backups with `modelhealthd state backup`")
    data = json.loads(row[0])
    if data.get("format") != BACKUP_FORMAT:
        raise StateError(f"{path}: backup format {data.get('format')!r} is not {BACKUP_FORMAT}")
    return BackupInfo(**data)


def restore(
    url: str, src: Path, registry: Registry | None = None, restore_pointers: bool = False
) -> RestoreResult:
    """Replace the store at ``url`` with the backup ``src``; refuses while a daemon holds the store."""
    store_backend = backend_for(url)
    info = read_backup(src)
    if info.schema_version > schema.SCHEMA_VERSION:
        raise StateError(
            f"{src} has schema version {info.schema_version}, newer than this modelhealthd "
            f"({schema.SCHEMA_VERSION}); restore it with the version that made it"
        )
    lock = DaemonLock(url)
    lock.acquire()  # StoreLockedError while a daemon runs; keeps one from starting meanwhile
    try:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        saved = store_backend.save_current(url, Path(src), stamp)
        store_backend.load(url, Path(src))
        _mark_restored(url, info, src)
        store = StateStore.open(url)  # migrates forward
        try:
            version = store.meta.schema_version()
            result = _pointers_after_restore(info, registry, restore_pointers, store)
        finally:
            store.close()
    finally:
        lock.release()
    return RestoreResult(info, version, saved, *result)


def _mark_restored(url: str, info: BackupInfo, src: Path) -> None:
    """Record where the restored rows came from, before anything migrates them."""
    engine = make_engine(url)
    restored = json.dumps(info.to_json() | {"restored_at": time.time(), "file": str(src)})
    try:
        with engine.begin() as conn:
            conn.execute(schema.meta.delete().where(schema.meta.c.key.in_(("backup", "restored_from"))))
            conn.execute(schema.meta.insert().values(key="restored_from", value=restored))
    finally:
        engine.dispose()


def _pointers_after_restore(
    info: BackupInfo, registry: Registry | None, move: bool, store: StateStore
) -> tuple[dict[str, tuple[str | None, str | None]], tuple[str, ...], dict[str, str]]:
    now_pointers = _pointers(registry)
    changes = {
        model: (now_pointers.get(model), version)
        for model, version in info.pointers.items()
        if now_pointers.get(model) != version
    }
    moved, left = [], {}
    for model, (current, wanted) in sorted(changes.items()):
        if not move or registry is None:
            left[model] = "pass --pointers to move it back"
            continue
        if wanted is None:
            left[model] = "the backup had no production version"
            continue
        try:
            registry.verify(model, wanted)
            registry.set_production(model, wanted)
        except (OSError, RegistryError) as exc:
            left[model] = str(exc)
            continue
        moved.append(model)
        store.decisions.append(
            time.time(),
            "rollback",
            f"{model}: production moved from v{current} to v{wanted} by a state restore",
            model=model,
            data={"from_version": current, "to_version": wanted, "restore": True},
        )
    return changes, tuple(moved), left


def _schema_version(conn: sqlite3.Connection, where: Path) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        raise StateError(f"{where} has no schema version; it is not a modelhealthd state store")
    return int(json.loads(row[0]))


def _check_integrity(conn: sqlite3.Connection, where: Path) -> None:
    result = conn.execute("PRAGMA integrity_check").fetchone()
    if not result or result[0] != "ok":
        raise StateError(f"{where} failed SQLite's integrity check: {result and result[0]}")
