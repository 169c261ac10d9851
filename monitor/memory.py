"""Keep the daemon's heap small: few malloc arenas, and freed memory handed back after a check.

A check allocates and frees window arrays of a few megabytes; glibc keeps freed blocks in its
per-thread arenas (up to eight per core), so a daemon checking on several threads holds far
more than it uses. :func:`limit_arenas`, called before the threads start, caps the arenas (as
``MALLOC_ARENA_MAX`` would, unless that is set); ``malloc_trim`` returns freed pages after each
check. Elsewhere than glibc both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_M_ARENA_MAX = -8  # mallopt parameter number, from glibc's malloc.h
_libc = None
try:
    _name = ctypes.util.find_library("c")
    if _name:
        _libc = ctypes.CDLL(_name)
        _libc.malloc_trim.argtypes = [ctypes.c_size_t]
        _libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
except (OSError, AttributeError):
    _libc = None


def limit_arenas(arenas: int = 1) -> bool:
    """Cap glibc's malloc arenas (unless MALLOC_ARENA_MAX says otherwise); True when it took.

    Each arena keeps the pages a check freed for its own thread's next check, so four scheduler
    threads would hold four windows' worth of free memory. It changes nothing already allocated.
    """
    if _libc is None or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        return bool(_libc.mallopt(_M_ARENA_MAX, arenas))
    except AttributeError:
        return False


def release_free_memory() -> bool:
    """Return freed heap pages to the OS; True when glibc did release some."""
    if _libc is None:
        return False
    return bool(_libc.malloc_trim(0))
