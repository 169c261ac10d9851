"""Lifecycle pieces in-process: the notify protocol, the watchdog gate, reload plans and the store lock."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from monitor.config import Config, load_config
from monitor.daemon.lifecycle import Lifecycle, liveness_problems
from monitor.daemon.reload import plan_reload
from monitor.daemon.sd_notify import Notifier, watchdog_interval
from monitor.daemon.service import Daemon
from monitor.daemon.wiring import build_daemon
from monitor.state.daemon_lock import DaemonLock, StoreLockedError, holder, lock_path
from reoptimize.job.first_versions import register_version
from reoptimize.registry.backends import open_registry
from tests.support.onnx_models import linear_classifier
from tests.support.waiting import wait_until


def _receiver(name: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name[1:].encode() if name.startswith("@") else name)
    sock.settimeout(5)
    return sock


def _fields(data: bytes) -> dict[str, str]:
    return dict(line.split("=", 1) for line in data.decode().splitlines())


@pytest.mark.parametrize("kind", ["abstract", "path"])
def test_notify_messages_reach_the_socket(kind: str, tmp_path: Path) -> None:
    name = f"@mhd-{uuid.uuid4().hex}" if kind == "abstract" else str(tmp_path / "n.sock")
    with _receiver(name) as sock:
        notifier = Notifier.from_env({"NOTIFY_SOCKET": name})
        assert notifier.ready("watching 1 model(s)\nsecond line")
        assert _fields(sock.recv(4096)) == {"READY": "1", "STATUS": "watching 1 model(s) second line"}
        assert notifier.watchdog()
        assert _fields(sock.recv(4096)) == {"WATCHDOG": "1"}
        assert notifier.reloading()
        reloading = _fields(sock.recv(4096))
        assert reloading["RELOADING"] == "1" and int(reloading["MONOTONIC_USEC"]) > 0
        assert notifier.stopping()
        assert _fields(sock.recv(4096))["STOPPING"] == "1"


def test_notify_without_a_socket_is_a_no_op_and_a_dead_socket_does_not_raise(tmp_path: Path) -> None:
    assert Notifier.from_env({}).ready("x") is False
    assert Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}).watchdog() is False


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec(env: dict[str, str], expected: float | None) -> None:
    assert watchdog_interval(env) == expected


def _config(**models: dict) -> Config:
    base = {"server": {"url": "http://127.0.0.1:1"}, "data": {"predictions": "p"}}
    return Config.model_validate({"models": [{"name": n} | base | extra for n, extra in models.items()]})


def test_reload_plan_names_added_removed_rescheduled_and_restart_only_changes() -> None:
    old = _config(a={}, b={"check": {"every": "1m"}}, c={})
    new = _config(b={"check": {"every": "30s"}}, c={"labels": {"team": "x"}}, d={})
    plan = plan_reload(old, new)
    assert (plan.added, plan.removed, plan.rescheduled, plan.changed) == (("d",), ("a",), ("b",), ("b", "c"))
    assert plan.restart_only == ()
    assert plan.summary() == "added d; removed a; rescheduled b; changed b, c"
    moved = new.model_copy(update={"state": "sqlite:////elsewhere.db"})
    assert plan_reload(old, moved).restart_only[0].startswith("state (")


@pytest.fixture
def daemon(tmp_path: Path, loopback):
    loopback.handler = lambda req: (200, b"", "text/plain")
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(200, 2)), columns=["a", "b"])
    frame["label"] = (frame["a"] > 0).astype(int)
    registry = open_registry(tmp_path / "registry")
    register_version(
        registry, "m", linear_classifier(np.eye(2)), frame, ("a", "b"), "label", "classification"
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "state": f"sqlite:///{tmp_path}/state.db",
                "registry": str(tmp_path / "registry"),
                "api": {"listen": f"127.0.0.1:{port}"},
                "models": [
                    {
                        "name": "m",
                        "server": {"url": loopback.url},
                        "data": {"predictions": str(tmp_path / "p")},
                    }
                ],
            }
        )
    )
    d = build_daemon(load_config(path), path)
    d.start()
    yield d
    if not d.stopping.is_set():
        d.stop(grace=1)


def test_watchdog_is_fed_only_while_scheduler_and_http_threads_live(daemon: Daemon) -> None:
    name = f"@mhd-{uuid.uuid4().hex}"
    with _receiver(name) as sock:
        now = [100.0]
        lifecycle = Lifecycle(daemon, Notifier(name, watchdog_seconds=1.0), clock=lambda: now[0])
        wait_until(lambda: daemon.last_tick_at is not None, 10, "a supervisor tick")
        assert liveness_problems(daemon) == []
        assert lifecycle.feed_watchdog() is True
        assert _fields(sock.recv(4096)) == {"WATCHDOG": "1"}
        assert lifecycle.feed_watchdog() is False  # not due yet

        # A tick that has not completed for a long time means a wedged scheduler.
        assert liveness_problems(daemon, now=daemon.last_tick_at + 301)[0].startswith("no supervisor tick")

        daemon.http_server.should_exit = True
        daemon.http_thread.join(10)
        now[0] += 1.0
        assert lifecycle.feed_watchdog() is False
        assert _fields(sock.recv(4096))["STATUS"] == "unhealthy: the HTTP API thread has died"
        daemon.scheduler.shutdown(wait=True)
        assert liveness_problems(daemon) == [
            "the scheduler thread is not running",
            "the HTTP API thread has died",
        ]


def test_reload_in_process_reschedules_and_keeps_the_rule_runner_contract(daemon: Daemon) -> None:
    text = daemon.config_path.read_text().replace("name: m\n", "name: m\n  check: {every: 5s}\n")
    daemon.config_path.write_text(text)
    lifecycle = Lifecycle(daemon, Notifier(None))
    old_engine = daemon.rules.engine
    assert lifecycle.reload() is True
    assert daemon.config.model("m").check.every == 5.0
    assert daemon.scheduler.get_job("check:m").trigger.interval.total_seconds() == 5.0
    assert (
        daemon.metrics.registry.get_sample_value("modelhealth_check_interval_seconds", {"model": "m"}) == 5.0
    )
    # Every collaborator reads the one running config; the rule engine is rebuilt for it once.
    assert daemon.rules.config is daemon.config and daemon.rules.engine is not old_engine
    assert daemon.rules.engine is daemon.rules.engine and daemon.supervisor.config is daemon.config
    assert daemon.promoter.config is daemon.config and daemon.watch.config is daemon.config
    daemon.config_path.write_text("models: [{name: m}]\n")
    assert lifecycle.reload() is False
    assert daemon.config.model("m").check.every == 5.0


def test_store_lock_refuses_a_second_holder_and_dies_with_its_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    assert lock_path(url) == tmp_path / "state.db.lock"
    assert lock_path("sqlite:///:memory:") is None and lock_path("postgresql://h/db") is None
    first = DaemonLock(url)
    first.acquire()
    assert holder(url).startswith(f"pid {os.getpid()} on ")
    with pytest.raises(StoreLockedError, match=f"in use by pid {os.getpid()}"):
        DaemonLock(url).acquire()
    first.release()
    assert holder(url) is None

    # A holder that is killed leaves no stale lock: the kernel drops it with the process.
    code = (
        "import sys, time; from monitor.state.daemon_lock import DaemonLock;"
        f"lock = DaemonLock({url!r}); lock.acquire(); print('locked', flush=True); time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        assert holder(url).startswith(f"pid {child.pid} ")
    finally:
        child.kill()
        child.wait(10)
    assert holder(url) is None
    DaemonLock(url).acquire()
