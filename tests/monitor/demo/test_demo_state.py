"""``modelhealthd demo --state URL``: the demo's config names the store, and a store it cannot
start from (held by a daemon, or holding an earlier run's rows) is refused before anything is
written, unless ``--reset-state`` lets it empty modelhealthd's tables. The whole demo on
PostgreSQL is tests/e2e/test_demo_on_postgres.py (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from monitor.cli import app
from monitor.demo.setup import prepare_state, write_setup
from monitor.state.daemon_lock import DaemonLock, StoreLockedError
from monitor.state.store import StateError, StateStore


def test_the_demo_config_names_the_given_store_or_a_new_sqlite_file(
    tmp_path: Path, postgres_url: str
) -> None:
    given = write_setup(tmp_path / "a", 8001, 8002, postgres_url)
    assert yaml.safe_load(given.config_path.read_text())["state"] == postgres_url
    default = write_setup(tmp_path / "b", 8001, 8002)
    assert (
        yaml.safe_load(default.config_path.read_text())["state"]
        == f"sqlite:///{tmp_path / 'b' / 'state' / 'state.db'}"
    )


def test_a_store_with_rows_is_refused_unless_reset(postgres_url: str) -> None:
    assert prepare_state(postgres_url) == 0  # a new database: the schema is created, nothing to remove
    store = StateStore.open(postgres_url)
    store.jobs.create("digits", "retrain", {}, {}, now=1.0)
    store.decisions.append(1.0, "transition", "an earlier run")
    store.close()
    with pytest.raises(StateError, match=r"already holds 2 row\(s\).*--reset-state"):
        prepare_state(postgres_url)
    assert prepare_state(postgres_url, reset=True) == 2
    store = StateStore.open(postgres_url)
    try:
        assert sum(store.meta.row_counts().values()) == 0 and store.meta.schema_version() >= 2
    finally:
        store.close()


def test_a_store_held_by_a_daemon_is_refused_even_with_reset(postgres_url: str) -> None:
    StateStore.open(postgres_url).close()
    lock = DaemonLock(postgres_url)
    lock.acquire()
    try:
        with pytest.raises(StoreLockedError, match="in use by pid"):
            prepare_state(postgres_url, reset=True)
    finally:
        lock.release()


def test_the_cli_refuses_before_writing_anything(tmp_path: Path, postgres_url: str) -> None:
    store = StateStore.open(postgres_url)
    store.decisions.append(1.0, "transition", "an earlier run")
    store.close()
    out = tmp_path / "demo-out"
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--state", postgres_url])
    assert result.exit_code == 2 and "--reset-state" in result.output
    assert not out.exists()
