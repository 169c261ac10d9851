"""A small, real world for reliability scenarios: a tiny tabular model in a registry, a state
store, the reference model server in a thread, and ``modelhealthd run`` as a child process.

The model is a 6-feature MLP trained once per session (about 2 s) and copied into each trial's
folder, so every trial starts from the same bytes. The promotion policy is permissive on purpose:
these scenarios test what happens around a promotion, not the gate.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import requests
import yaml

from tests.support.waiting import wait_until

FEATURES = [f"f{i}" for i in range(6)]
LABEL = "label"
MODEL = "m"
RECIPE = {
    "factory": "reoptimize.recipes.mlp:mlp",
    "params": {"hidden": [16]},
    "training": {"max_epochs": 3, "patience": 2, "batch_size": 64},
}
# Any candidate passes: no constraints, and an objective (smaller files) that any gain, or
# loss, of under a terabyte satisfies. These scenarios are about what happens around a promotion.
PERMISSIVE_POLICY = {"constraints": [], "objective": "-model_size_bytes", "min_improvement": -1e12}
SERVER_TOKEN = "server-secret"
API_TOKEN = "api-secret"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def table(rows: int = 600, seed: int = 3) -> pd.DataFrame:
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=rows,
        n_features=len(FEATURES),
        n_informative=4,
        n_redundant=0,
        n_classes=2,
        random_state=seed,
    )
    frame = pd.DataFrame(x.astype(np.float32), columns=FEATURES)
    frame[LABEL] = y
    return frame


def train_template(folder: Path) -> Path:
    """A registry holding v1 of ``m`` (production), trained from generated data."""
    from reoptimize.job.first_versions import train_first_version
    from reoptimize.registry.file_registry import FileRegistry

    registry = folder / "registry"
    train_first_version(FileRegistry(registry), MODEL, RECIPE, table(), FEATURES, LABEL)
    return registry


@dataclass
class World:
    """One trial's folder: ``state/`` (registry, state.db, job logs) and ``config.yaml``."""

    root: Path
    server_url: str
    api_port: int
    extra_model: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def registry_dir(self) -> Path:
        return self.state_dir / "registry"

    @property
    def state_url(self) -> str:
        return f"sqlite:///{self.state_dir / 'state.db'}"

    @property
    def config_path(self) -> Path:
        return self.root / "config.yaml"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def write_config(self) -> Path:
        (self.root / "server-token").write_text(SERVER_TOKEN + "\n")
        (self.root / "api-token").write_text(API_TOKEN + "\n")
        model = {
            "name": MODEL,
            "server": {"url": self.server_url, "token_file": str(self.root / "server-token")},
            "data": {"predictions": str(self.root / "logs"), "label_column": LABEL},
            "features": FEATURES,
            "recipe": RECIPE,
            "check": {"every": "1h", "window": "1h", "min_rows": 20},
            "policy": PERMISSIVE_POLICY,
            **self.extra_model,
        }
        config = {
            "state": self.state_url,
            "registry": str(self.registry_dir),
            "api": {"listen": f"127.0.0.1:{self.api_port}", "token_file": str(self.root / "api-token")},
            "jobs": {"timeout": "3m", "heartbeat_timeout": "20s", "drain_grace": "5s"},
            "models": [model],
            **self.extra,
        }
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        return self.config_path

    def store(self):  # noqa: ANN201 - monitor.state.store.StateStore
        from monitor.state.store import StateStore

        return StateStore.open(self.state_url)

    def registry(self):  # noqa: ANN201 - reoptimize.registry.file_registry.FileRegistry
        from reoptimize.registry.file_registry import FileRegistry

        return FileRegistry(self.registry_dir)


def new_world(root: Path, template_registry: Path, server_url: str, **kwargs: Any) -> World:
    root.mkdir(parents=True, exist_ok=True)
    world = World(root, server_url, free_port(), **kwargs)
    shutil.copytree(template_registry, world.registry_dir)
    world.write_config()
    return world


@contextlib.contextmanager
def model_server(registry_dir: Path) -> Iterator[str]:
    """The reference server for ``m`` in a thread on a free loopback port; yields its URL."""
    from prometheus_client import CollectorRegistry

    from serving.app import create_app
    from serving.server import ServerThread

    app = create_app(registry_dir, MODEL, token=SERVER_TOKEN, metrics_registry=CollectorRegistry())
    server = ServerThread(app).start()
    try:
        yield server.url
    finally:
        server.stop()


def served_version(server_url: str) -> str | None:
    response = requests.get(server_url + "/readyz", timeout=5)
    return response.json().get("version") if response.status_code == 200 else None


class Daemon:
    """``modelhealthd run`` for a world, with optional armed failure points."""

    def __init__(self, world: World, failpoints: str = "", log_name: str = "daemon.log"):
        env = dict(os.environ, DO_NOT_TRACK="1", PYTHONUNBUFFERED="1")
        env.pop("NOTIFY_SOCKET", None)
        env.pop("MODELHEALTHD_FAILPOINTS", None)
        if failpoints:
            env["MODELHEALTHD_FAILPOINTS"] = failpoints
        self.world = world
        self.log_path = world.root / log_name
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "run", "-c", str(world.config_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the main loop runs (its ``ready`` log line): signal handlers are in place then."""

        def ready() -> bool:
            assert self.alive(), f"the daemon exited ({self.proc.returncode}):\n{self.text()[-3000:]}"
            return any(line.get("event") == "ready" for line in self.lines())

        wait_until(ready, timeout, "the daemon's ready log line", poll=0.05)

    def lines(self) -> list[dict[str, Any]]:
        """The daemon's JSON log lines so far (anything else, such as a traceback, is skipped)."""
        out = []
        for raw in self.text().splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(raw)
                if isinstance(entry, dict):
                    out.append(entry)
        return out

    def kill9(self) -> None:
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            return None
        finally:
            self._log.close()

    def close(self) -> None:
        self.kill9()
        self._log.close()

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")


def worker_pids(world: World, job_id: str) -> list[int]:
    """Live job workers of this world's job (their command line names the job; job ids are random)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"reoptimize.executors.job_process" in argv and job_id.encode() in argv:
            pids.append(int(entry.name))
    return pids


def kill_workers(world: World, job_id: str) -> None:
    for pid in worker_pids(world, job_id):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # a worker leads its own process group


def poll(predicate: Callable[[], Any], timeout: float, what: str, poll_seconds: float = 0.05) -> Any:
    return wait_until(predicate, timeout, what, poll=poll_seconds)


def decisions_json(store) -> list[dict[str, Any]]:  # noqa: ANN001
    return [json.loads(json.dumps(d.__dict__, default=str)) for d in store.decisions.list(limit=10_000)]


def wait_pid_gone(pid: int, timeout: float) -> None:
    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        status = Path(f"/proc/{pid}/stat")
        with contextlib.suppress(OSError):
            return status.read_text().split()[2] == "Z"
        return True

    wait_until(gone, timeout, f"process {pid} to exit")


def monotonic() -> float:
    return time.monotonic()


def add_trained_version(registry_dir: Path, frame: pd.DataFrame, scratch: Path) -> str:
    """Train a model on ``frame`` elsewhere and add it to ``registry_dir`` as the next version of m."""
    from reoptimize.job.first_versions import train_first_version
    from reoptimize.registry.file_registry import FileRegistry

    other = FileRegistry(scratch / "registry")
    train_first_version(other, MODEL, RECIPE, frame, FEATURES, LABEL)
    m = other.manifest(MODEL, "1")
    files = {name: other.version_dir(MODEL, "1") / name for name in m.files}
    added = FileRegistry(registry_dir).add_version(
        MODEL, files, task=m.task, features=m.features, label=m.label, classes=m.classes, metrics=m.metrics
    )
    return added.version
