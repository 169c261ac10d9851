"""The reference cache computes statistics once per (model, version, content hash), within a bound."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from monitor.drift.cache import ReferenceCache, columns_digest
from monitor.drift.reference_stats import build_reference_stats

COLUMNS = {"x": np.arange(100.0), "c": np.array(["a", "b"] * 50, dtype=object)}


class CountingBuild:
    def __init__(self, columns=COLUMNS):
        self.calls = 0
        self.columns = columns
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            self.calls += 1
        return build_reference_stats(self.columns)


def test_stats_are_built_once_per_version():
    cache, build = ReferenceCache(), CountingBuild()
    digest = columns_digest(COLUMNS)
    first = cache.get_or_build("m", "1", digest, build)
    for _ in range(5):
        assert cache.get_or_build("m", "1", digest, build) is first
    assert build.calls == 1
    cache.get_or_build("m", "2", digest, build)
    cache.get_or_build("m", "2", "other-content", build)
    cache.get_or_build("n", "1", digest, build)
    assert build.calls == 4


def test_size_is_bounded_least_recently_used_first():
    cache, build = ReferenceCache(max_entries=2), CountingBuild()
    cache.get_or_build("m", "1", "h", build)
    cache.get_or_build("m", "2", "h", build)
    cache.get_or_build("m", "1", "h", build)  # touch 1, so 2 is the oldest
    cache.get_or_build("m", "3", "h", build)
    assert len(cache) == 2
    assert cache.get("m", "2", "h") is None and cache.get("m", "1", "h") is not None
    cache.get_or_build("m", "2", "h", build)
    assert build.calls == 4


def test_concurrent_checks_build_once():
    cache, build = ReferenceCache(), CountingBuild()
    barrier = threading.Barrier(8)
    results = []

    def worker():
        barrier.wait(timeout=10)
        results.append(cache.get_or_build("m", "1", "h", build))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert build.calls == 1
    assert len(results) == 8 and all(result is results[0] for result in results)


def test_failed_build_is_not_cached():
    cache = ReferenceCache()

    def broken():
        raise ValueError("bad reference")

    with pytest.raises(ValueError, match="bad reference"):
        cache.get_or_build("m", "1", "h", broken)
    build = CountingBuild()
    cache.get_or_build("m", "1", "h", build)
    assert build.calls == 1


def test_discard_model_forgets_only_that_model():
    cache, build = ReferenceCache(), CountingBuild()
    cache.get_or_build("m", "1", "h", build)
    cache.get_or_build("n", "1", "h", build)
    cache.discard_model("m")
    assert cache.get("m", "1", "h") is None and cache.get("n", "1", "h") is not None


def test_digest_changes_with_values_names_and_dtype():
    base = columns_digest(COLUMNS)
    assert base == columns_digest(dict(COLUMNS))
    assert base != columns_digest({**COLUMNS, "x": np.arange(1.0, 101.0)})
    assert base != columns_digest({"y": COLUMNS["x"], "c": COLUMNS["c"]})
    assert base != columns_digest({**COLUMNS, "x": np.arange(100, dtype=np.int64)})


def test_max_entries_must_be_positive():
    with pytest.raises(ValueError, match="max_entries"):
        ReferenceCache(max_entries=0)
