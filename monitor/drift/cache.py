"""A bounded cache of reference statistics, keyed by (model, version, content hash).

A reference data set belongs to one registry version and never changes, so its statistics are
computed once. The content hash is part of the key so that a re-registered version with other
data cannot be served stale statistics.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from monitor.drift.stats import ReferenceStats

CacheKey = tuple[str, str, str]


def columns_digest(columns: Mapping[str, np.ndarray]) -> str:
    """sha256 over column names, dtypes and values; for callers without a file hash at hand."""
    digest = hashlib.sha256()
    for name in sorted(columns):
        array = np.asarray(columns[name])
        digest.update(f"{name}\x00{array.dtype.str}\x00{array.shape}\x00".encode())
        if array.dtype.kind == "O":
            digest.update("\x1f".join(repr(value) for value in array.tolist()).encode())
        else:
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


class ReferenceCache:
    """Least-recently-used statistics per (model, version, content hash), at most ``max_entries``.

    Thread-safe: two checks of the same version build the statistics once.
    """

    def __init__(self, max_entries: int = 32):
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._entries: OrderedDict[CacheKey, ReferenceStats] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[CacheKey, threading.Lock] = {}

    def get_or_build(
        self, model: str, version: str, content_hash: str, build: Callable[[], ReferenceStats]
    ) -> ReferenceStats:
        """The cached statistics for this key, calling ``build()`` only when they are not cached."""
        key = (model, str(version), content_hash)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    return self._entries[key]
            try:
                stats = build()
            except BaseException:
                with self._lock:
                    self._key_locks.pop(key, None)
                raise
            with self._lock:
                self._entries[key] = stats
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
                self._key_locks.pop(key, None)
        return stats

    def get(self, model: str, version: str, content_hash: str) -> ReferenceStats | None:
        with self._lock:
            return self._entries.get((model, str(version), content_hash))

    def discard_model(self, model: str) -> None:
        """Forget every version of one model (for example after it is removed from the config)."""
        with self._lock:
            for key in [key for key in self._entries if key[0] == model]:
                del self._entries[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
