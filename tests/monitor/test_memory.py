"""The daemon's allocator settings, seen through glibc's own malloc_stats in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from monitor import memory

pytestmark = pytest.mark.skipif(memory._libc is None, reason="needs glibc")

# Four threads each allocate at the same time; glibc gives a thread its own arena unless capped.
PROGRAM = """
import ctypes, sys, threading
from monitor.memory import limit_arenas
if sys.argv[1] == "cap":
    assert limit_arenas(1)
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
barrier = threading.Barrier(4)
kept = []
def work():
    barrier.wait()
    kept.extend(libc.malloc(4096) for _ in range(2000))
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
libc.malloc_stats()
"""


def _arenas(mode: str, **env: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode],
        capture_output=True,
        text=True,
        timeout=60,
        env={**{k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}, **env},
    )
    assert done.returncode == 0, done.stderr
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


def test_capping_arenas_keeps_checking_threads_in_one_heap() -> None:
    assert _arenas("default") > 1
    assert _arenas("cap") == 1


def test_an_operators_malloc_arena_max_wins(monkeypatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert memory.limit_arenas() is False
