"""The daemon as a real subprocess, with a fake systemd notify socket and its JSON log lines.

``NotifySocket`` binds an AF_UNIX datagram socket in the abstract namespace (``@name``, as
systemd may pass it) and records every message the daemon sends. ``DaemonProcess`` runs
``modelhealthd run`` with ``NOTIFY_SOCKET`` and ``WATCHDOG_USEC`` set and parses its stdout.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from tests.support.waiting import wait_until


class NotifySocket:
    """A stand-in for systemd's notify socket. ``messages`` holds one dict per datagram."""

    def __init__(self) -> None:
        self.name = f"@modelhealthd-test-{uuid.uuid4().hex}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(b"\0" + self.name[1:].encode())
        self.sock.settimeout(0.2)
        self.messages: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._receive, daemon=True)
        self.thread.start()

    def _receive(self) -> None:
        while not self.closed.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self.lock:
                self.messages.append(fields)

    def snapshot(self) -> list[dict[str, str]]:
        with self.lock:
            return list(self.messages)

    def count(self, key: str, value: str = "1") -> int:
        return sum(1 for m in self.snapshot() if m.get(key) == value)

    def wait_for(self, key: str, value: str = "1", timeout: float = 30.0, after: int = 0) -> dict[str, str]:
        """The first message at index >= ``after`` with ``key=value``."""

        def find() -> dict[str, str] | None:
            for message in self.snapshot()[after:]:
                if message.get(key) == value:
                    return message
            return None

        return wait_until(find, timeout, f"{key}={value} on the notify socket")

    def close(self) -> None:
        self.closed.set()
        self.sock.close()
        self.thread.join(2)


class DaemonProcess:
    """``modelhealthd run -c CONFIG`` as a child process, logging JSON lines to ``log_path``."""

    def __init__(self, config: Path, log_path: Path, notify: NotifySocket | None, watchdog_usec: int = 0):
        env = dict(os.environ, DO_NOT_TRACK="1", PYTHONUNBUFFERED="1")
        env.pop("NOTIFY_SOCKET", None)
        if notify is not None:
            env["NOTIFY_SOCKET"] = notify.name
        if watchdog_usec:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in wait()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "run", "-c", str(config)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.flush()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def lines(self) -> list[dict[str, Any]]:
        """Every JSON log line so far (other output, such as tracebacks, is skipped)."""
        out = []
        for raw in self.text().splitlines():
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if isinstance(entry, dict):
                out.append(entry)
        return out

    def events(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line.get("event") == event]

    def wait_event(self, event: str, timeout: float = 30.0, count: int = 1) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            assert self.alive() or event == "stopped", f"the daemon exited:\n{self.text()[-3000:]}"
            matches = self.events(event)
            return matches[count - 1] if len(matches) >= count else None

        return wait_until(found, timeout, f"log event {event!r} (#{count})", poll=0.1)

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        try:
            return self.wait(timeout)
        finally:
            self.kill()
