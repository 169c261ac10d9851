"""The daemon and the reference model server as real processes on loopback, each logging to a file.

``served_server`` registers model ``m`` and starts ``modelhealthd serve`` for it; ``served_pair``
adds ``modelhealthd run`` watching that server. Both wait until the processes answer, and stop
them afterwards. Tests that must see
every line a process prints (a traceback, a logged exception) read ``Served.log``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.alerting import TOKEN, free_port, register_model, write_config
from tests.support.daemon_process import DaemonProcess
from tests.support.waiting import wait_until

SERVER_TOKEN = "raw-body-server-token"


@dataclass(frozen=True)
class Served:
    host: str
    port: int
    log: Path
    token: str

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def start_server(registry: Path, port: int, token_file: Path, log: Path) -> subprocess.Popen:
    """``modelhealthd serve`` for model ``m`` of ``registry``, output appended to ``log``."""
    env = dict(os.environ, DO_NOT_TRACK="1", PYTHONUNBUFFERED="1")
    argv = [sys.executable, "-m", "monitor.cli", "serve", "--registry", str(registry), "--model", "m",
            "--port", str(port), "--token-file", str(token_file)]  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)


@contextmanager
def served_server(tmp_path: Path) -> Iterator[Served]:
    """The reference server for model ``m`` (registered now under ``tmp_path / "registry"``), running."""
    registry = tmp_path / "registry"
    register_model(registry)
    token_file = tmp_path / "server-token"
    token_file.write_text(SERVER_TOKEN + "\n")
    server = Served("127.0.0.1", free_port(), tmp_path / "server.log", SERVER_TOKEN)
    proc = start_server(registry, server.port, token_file, server.log)
    try:
        wait_until(lambda: requests.get(server.url + "/readyz", timeout=2).ok, 60, "the model server")
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextmanager
def served_pair(tmp_path: Path) -> Iterator[tuple[Served, Served]]:
    """(daemon, server): the reference server and a daemon watching it, both running."""
    with served_server(tmp_path) as server:
        daemon = Served("127.0.0.1", free_port(), tmp_path / "daemon.log", TOKEN)
        api = {"listen": f"127.0.0.1:{daemon.port}", "token": TOKEN}  # the default body limit, 1 MiB
        process = DaemonProcess(write_config(tmp_path, server.url, api=api), daemon.log, notify=None)
        try:
            wait_until(lambda: requests.get(daemon.url + "/healthz", timeout=2).ok, 60, "the daemon's API")
            yield daemon, server
        finally:
            process.stop(30)
