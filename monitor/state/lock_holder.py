"""How a daemon lock names its holder, the same way for every backend."""

from __future__ import annotations

import os
import socket
import time


def describe_this_process(now: float | None = None) -> str:
    """``pid 123 on host since 2026-01-01T00:00:00Z``: what refusals and ``status`` show."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    return f"pid {os.getpid()} on {socket.gethostname()} since {stamp}"
