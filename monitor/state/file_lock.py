"""The daemon lock of a SQLite store: an ``flock`` on ``<state.db>.lock``.

The kernel drops an flock when its process dies, so a crash never leaves a stale lock behind.
The file holds the holder's description (``pid 123 on host since ...``) for the messages.
"""

from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path
from typing import TextIO

from monitor.state.errors import StoreLockedError


def lock_path(url: str) -> Path | None:
    """``<database>.lock`` for a SQLite file URL; None for in-memory or server databases."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///")
    if not path or path == ":memory:":
        return None
    return Path(path + ".lock")


def file_holder(path: Path) -> str | None:
    """Who holds the flock on ``path``, or None when nobody does."""
    if not path.exists():
        return None
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            return handle.read().strip() or "an unknown process"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


class FileLock:
    """An flock held on ``path`` from :meth:`acquire` to :meth:`release`."""

    def __init__(self, url: str, path: Path):
        self.url = url
        self.path = path
        self._handle: TextIO | None = None

    def acquire(self, who: str) -> FileLock:
        """Take the lock and write ``who`` into the file; raises StoreLockedError naming the holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - stays open while the lock is held
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise StoreLockedError(
                f"the state store {self.url} is in use by {holder}; stop that daemon first "
                f"(lock file {self.path})"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(who + "\n")
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is None:
            return
        with contextlib.suppress(OSError):
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
