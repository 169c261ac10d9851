"""The lock a running daemon holds on its state store, so a second daemon or a restore refuses.

How the lock is held depends on the database (see :mod:`monitor.state.backend`): an ``flock``
on ``<state.db>.lock`` for SQLite, a session-level advisory lock for PostgreSQL. Either way the
operating system or the server drops it when the holder dies, and the holder is recorded as
``pid 123 on host since ...`` for the refusal message, ``modelhealthd status`` and
``modelhealthd state info``.
"""

from __future__ import annotations

from monitor.state.backend import HeldLock, backend_for
from monitor.state.errors import StoreLockedError
from monitor.state.file_lock import lock_path

__all__ = ["DaemonLock", "StoreLockedError", "holder", "lock_path"]


def holder(url: str) -> str | None:
    """Who holds the store's lock (``pid 123 on host since ...``), or None when nobody does."""
    return backend_for(url).holder(url)


class DaemonLock:
    """Held from the daemon's start to its stop. ``acquire`` raises :class:`StoreLockedError`."""

    def __init__(self, url: str):
        self.url = url
        self._held: HeldLock | None = None

    @property
    def held(self) -> bool:
        """True while this process holds the lock (never for an in-memory store, which has none)."""
        return self._held is not None

    def acquire(self) -> None:
        if self._held is None:
            self._held = backend_for(self.url).lock(self.url)

    def release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.release()
