"""The daemon lock on both backends: a second holder is refused naming the first, and the lock
dies with its holder's process (an flock for SQLite, an advisory lock's session for PostgreSQL)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from monitor.cli import app
from monitor.state.daemon_lock import DaemonLock, StoreLockedError, holder
from monitor.state.store import StateStore

ROOT = Path(__file__).resolve().parents[3]


def _wait_for(predicate, seconds: float = 30.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _lock_in_child(url: str) -> subprocess.Popen[str]:
    code = (
        "import time; from monitor.state.daemon_lock import DaemonLock;"
        f"lock = DaemonLock({url!r}); lock.acquire(); print('locked', flush=True); time.sleep(60)"
    )
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)


def test_a_second_holder_is_refused_naming_the_first(store_url: str) -> None:
    StateStore.open(store_url).close()
    assert holder(store_url) is None
    first = DaemonLock(store_url)
    first.acquire()
    try:
        assert first.held
        who = holder(store_url)
        assert who is not None and who.startswith(f"pid {os.getpid()} on {socket.gethostname()[:8]}")
        assert " since 20" in who
        second = DaemonLock(store_url)
        with pytest.raises(
            StoreLockedError, match=f"in use by pid {os.getpid()} on .*stop that daemon first"
        ):
            second.acquire()
        assert not second.held
    finally:
        first.release()
    assert not first.held and holder(store_url) is None
    first.release()  # a second release is harmless
    again = DaemonLock(store_url)
    again.acquire()
    again.release()


def test_killing_the_holder_frees_the_lock(store_url: str) -> None:
    StateStore.open(store_url).close()
    child = _lock_in_child(store_url)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        who = holder(store_url)
        assert who is not None and who.startswith(f"pid {child.pid} ")
        with pytest.raises(StoreLockedError, match=f"in use by pid {child.pid} "):
            DaemonLock(store_url).acquire()
    finally:
        child.kill()
        child.wait(10)
    # The kernel (flock) or the server (the session ended with its connection) drops the lock.
    assert _wait_for(lambda: holder(store_url) is None), f"still held by {holder(store_url)}"
    lock = DaemonLock(store_url)
    lock.acquire()
    lock.release()


def test_status_and_state_info_name_the_holder(store_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"state": store_url, "registry": str(tmp_path / "registry")}))
    StateStore.open(store_url).close()
    lock = DaemonLock(store_url)
    lock.acquire()
    try:
        status = CliRunner().invoke(app, ["status", "-c", str(config)])
        assert f"daemon: running, pid {os.getpid()} on " in status.output, status.output
        info = CliRunner().invoke(app, ["state", "info", "-c", str(config)])
        assert info.exit_code == 0, info.output
        assert f"daemon     pid {os.getpid()} on " in info.output
    finally:
        lock.release()
    info = CliRunner().invoke(app, ["state", "info", "-c", str(config)])
    assert "daemon     none holds the store" in info.output
