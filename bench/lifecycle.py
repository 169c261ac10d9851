"""How fast the daemon answers systemd: start to READY=1, SIGHUP to READY=1, SIGTERM to exit.

The baseline, measured in the same run, is starting the same interpreter and importing the
command line (``python -c "import monitor.cli"``): the least any start can cost. A start that
pulled torch or evidently into the daemon would show as a ratio several times larger.

    python bench/lifecycle.py [--runs 5]

The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(sock: socket.socket, key: str, deadline: float) -> float:
    while time.monotonic() < deadline:
        try:
            data = sock.recv(4096).decode()
        except TimeoutError:
            continue
        if f"{key}=1" in data.splitlines():
            return time.monotonic()
    raise RuntimeError(f"no {key}=1 before the deadline")


def one_run(folder: Path) -> dict[str, float]:
    config = folder / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "state": f"sqlite:///{folder}/state.db",
                "registry": str(folder / "registry"),
                "api": {"listen": f"127.0.0.1:{_free_port()}"},
                "models": [
                    {"name": f"m{i}", "server": {"url": "http://127.0.0.1:9"}, "data": {"predictions": "p"}}
                    for i in range(3)
                ],
            }
        )
    )
    name = f"@modelhealthd-bench-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name[1:].encode())
        sock.settimeout(0.1)
        env = dict(os.environ, NOTIFY_SOCKET=name, DO_NOT_TRACK="1")
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "run", "-c", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            ready = _wait_for(sock, "READY", started + 60) - started
            sent = time.monotonic()
            proc.send_signal(signal.SIGHUP)
            _wait_for(sock, "RELOADING", sent + 30)
            reload = _wait_for(sock, "READY", sent + 30) - sent
            sent = time.monotonic()
            proc.terminate()
            proc.wait(60)
            stop = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
    return {"start_to_ready_seconds": ready, "reload_to_ready_seconds": reload, "stop_seconds": stop}


def baseline() -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import monitor.cli"], check=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs, bases = [], []
    for _ in range(args.runs):
        bases.append(baseline())
        with tempfile.TemporaryDirectory() as folder:
            runs.append(one_run(Path(folder)))
    base = statistics.median(bases)
    result: dict[str, float] = {"baseline_import_cli_seconds": round(base, 3), "runs": args.runs}
    for key in runs[0]:
        value = statistics.median(r[key] for r in runs)
        result[key] = round(value, 3)
        print(f"{key:26} {value * 1000:8.0f} ms   {value / base:5.2f}x the baseline ({base * 1000:.0f} ms)")
    result["start_ratio"] = round(result["start_to_ready_seconds"] / base, 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
