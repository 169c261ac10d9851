"""systemd's notify protocol with the standard library: READY, STATUS, WATCHDOG, RELOADING, STOPPING.

A message is one datagram of ``KEY=value`` lines sent to the AF_UNIX socket named by
``$NOTIFY_SOCKET``; a leading ``@`` names a socket in the abstract namespace. Without the
variable (not under systemd, or ``Type=simple``) every call is a no-op, so the daemon runs
the same everywhere.

>>> notifier = Notifier.from_env({})      # not under systemd
>>> notifier.ready("watching 2 models")   # does nothing and returns False
False
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger("modelhealthd.systemd")


def _address(name: str) -> str | bytes:
    # "@name" is Linux's abstract namespace: a socket address that starts with a NUL byte.
    if name.startswith("@"):
        return b"\0" + name[1:].encode()
    return name


def watchdog_interval(env: Mapping[str, str], pid: int | None = None) -> float | None:
    """Seconds between two WATCHDOG=1 pings (half of ``$WATCHDOG_USEC``), or None when off.

    systemd sets ``$WATCHDOG_PID`` to the process it watches; a child that inherited the
    variables must not ping on the parent's behalf.
    """
    raw = env.get("WATCHDOG_USEC", "").strip()
    if not raw:
        return None
    owner = env.get("WATCHDOG_PID", "").strip()
    if owner and owner != str(os.getpid() if pid is None else pid):
        return None
    try:
        usec = int(raw)
    except ValueError:
        log.warning("ignoring WATCHDOG_USEC=%r: expected microseconds as an integer", raw)
        return None
    return usec / 2_000_000 if usec > 0 else None


class Notifier:
    """Sends notify messages to systemd. Sending never raises: the service must not die of it."""

    def __init__(self, socket_name: str | None, watchdog_seconds: float | None = None):
        self.socket_name = socket_name or None
        self.watchdog_seconds = watchdog_seconds
        self.sent = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if env is None else env
        return cls(env.get("NOTIFY_SOCKET"), watchdog_interval(env))

    @property
    def enabled(self) -> bool:
        return self.socket_name is not None

    def send(self, **fields: str | int) -> bool:
        """Send ``KEY=value`` lines (``send(READY=1, STATUS="ok")``); True when a datagram left."""
        if not self.socket_name:
            return False
        message = "\n".join(f"{key}={_one_line(value)}" for key, value in fields.items())
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message.encode(), _address(self.socket_name))
        except OSError as exc:
            log.warning("sd_notify to %s failed: %s", self.socket_name, exc)
            return False
        self.sent += 1
        return True

    def ready(self, status: str) -> bool:
        return self.send(READY=1, STATUS=status)

    def status(self, status: str) -> bool:
        return self.send(STATUS=status)

    def watchdog(self) -> bool:
        return self.send(WATCHDOG=1)

    def reloading(self, status: str = "reloading the configuration") -> bool:
        # MONOTONIC_USEC lets Type=notify-reload (systemd 253+) match this message to the reload.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send(RELOADING=1, MONOTONIC_USEC=usec, STATUS=status)

    def stopping(self, status: str = "draining") -> bool:
        return self.send(STOPPING=1, STATUS=status)


def _one_line(value: str | int) -> str:
    return str(value).replace("\n", " ")
