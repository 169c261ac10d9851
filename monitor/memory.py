"""Hand freed heap memory back to the operating system after a check.

A check allocates and frees window arrays of a few megabytes; glibc keeps freed blocks in its
per-thread arenas, so a daemon watching many models holds far more than it uses. ``malloc_trim``
returns them. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_libc = None
try:
    _name = ctypes.util.find_library("c")
    if _name:
        _libc = ctypes.CDLL(_name)
        _libc.malloc_trim.argtypes = [ctypes.c_size_t]
except (OSError, AttributeError):
    _libc = None


def release_free_memory() -> bool:
    """Return freed heap pages to the OS; True when glibc did release some."""
    if _libc is None:
        return False
    return bool(_libc.malloc_trim(0))
