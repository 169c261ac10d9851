"""Job entries for executor tests: ``tests.support.job_entries:<name>``, called with the job's payload."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any


def hello(payload: Mapping[str, Any]) -> int:
    print("hello", os.environ.get("JOB_FLAVOUR"), payload.get("greeting"), flush=True)
    return 0


def fail(payload: Mapping[str, Any]) -> int:
    print("oops", file=sys.stderr, flush=True)
    return int(payload.get("code", 3))


def sleep_with_child(payload: Mapping[str, Any]) -> int:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    with open(payload["pid_file"], "w") as fh:
        fh.write(str(child.pid))
    time.sleep(120)
    return 0


def trap_sigterm(payload: Mapping[str, Any]) -> int:
    signal.signal(signal.SIGTERM, lambda *a: (print("terminated", flush=True), os._exit(0)))
    print("ready", flush=True)
    time.sleep(120)
    return 0


def ignore_sigterm(payload: Mapping[str, Any]) -> int:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ready", flush=True)
    time.sleep(120)
    return 0


def sleep(payload: Mapping[str, Any]) -> int:
    time.sleep(float(payload.get("seconds", 120)))
    return 0
