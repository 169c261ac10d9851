"""The one bounded wait of the test suite: poll a condition until it holds, or fail naming it."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import requests

T = TypeVar("T")
# A server that is starting or restarting refuses connections for a moment: that is "not yet".
NOT_YET = (requests.RequestException, OSError)


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    what: str,
    *,
    poll: float = 0.05,
    procs: Iterable[subprocess.Popen[Any]] = (),
    not_yet: tuple[type[BaseException], ...] = NOT_YET,
) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that.

    Fails naming ``what`` after ``timeout`` seconds, or at once when one of ``procs`` has exited.
    An exception in ``not_yet`` counts as "not yet"; any other propagates.
    """
    procs = tuple(procs)
    deadline = time.monotonic() + timeout
    while True:
        for p in procs:
            assert p.poll() is None, f"a process exited (code {p.returncode}) while waiting for {what}"
        try:
            value = predicate()
        except not_yet:
            value = None  # type: ignore[assignment]
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(poll)
