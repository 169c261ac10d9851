"""One lock per model, so that a model's scheduled check, a check on request and a drift report
on request never read or write its window at the same time."""

from __future__ import annotations

import threading


class CheckLocks:
    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def __call__(self, model: str) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(model)
            if lock is None:
                lock = self._locks[model] = threading.Lock()
            return lock
