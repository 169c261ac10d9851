"""The lock a running daemon holds on its SQLite state store, so a second daemon or a restore refuses.

It is an ``flock`` on ``<state.db>.lock``: the kernel drops it when the process dies, so a
crash never leaves a stale lock behind. The file holds the holder's pid for the messages.
A PostgreSQL store has no file; its URL gets no lock (leases are planned for replicas).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from pathlib import Path

from monitor.state.store import StateError


class StoreLockedError(StateError):
    """Another process (a running daemon) holds the state store."""


def lock_path(url: str) -> Path | None:
    """``<database>.lock`` for a SQLite file URL; None for in-memory or server databases."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///")
    if not path or path == ":memory:":
        return None
    return Path(path + ".lock")


def holder(url: str) -> str | None:
    """Who holds the store's lock (``pid 123 on host since ...``), or None when nobody does."""
    path = lock_path(url)
    if path is None or not path.exists():
        return None
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            return handle.read().strip() or "an unknown process"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


class DaemonLock:
    """Held from the daemon's start to its stop. ``acquire`` raises :class:`StoreLockedError`."""

    def __init__(self, url: str):
        self.url = url
        self.path = lock_path(url)
        self._handle = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def acquire(self) -> None:
        if self.path is None or self._handle is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - stays open while the lock is held
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            who = handle.read().strip() or "another process"
            handle.close()
            raise StoreLockedError(
                f"the state store {self.url} is in use by {who}; stop that daemon first "
                f"(lock file {self.path})"
            ) from None
        handle.seek(0)
        handle.truncate()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {stamp}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is None:
            return
        with contextlib.suppress(OSError):
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
