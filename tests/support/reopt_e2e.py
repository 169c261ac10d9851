"""A stack for re-optimization end-to-end tests: a generated tabular model that lives nowhere in
the repository, trained into a fresh registry, with the daemon, model servers and replays run as
real processes through the CLI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import requests
import yaml

from tests.support.waiting import wait_until

FEATURES = [f"s{i:02d}" for i in range(20)]
LABEL = "state"
RECIPE = {
    "factory": "reoptimize.recipes.mlp:mlp",
    "params": {"hidden": [256, 256]},
    "training": {"max_epochs": 25, "patience": 4, "learning_rate": 0.002, "batch_size": 64},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sensor_table(rows: int = 6000, seed: int = 11) -> pd.DataFrame:
    """A 3-class machine-state table with 20 sensor readings, generated, never stored in the repo."""
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=rows, n_features=len(FEATURES), n_informative=12, n_redundant=4, n_classes=3,
        class_sep=1.6, random_state=seed,
    )  # fmt: skip
    frame = pd.DataFrame(x.astype(np.float32), columns=FEATURES)
    frame[LABEL] = y
    return frame


def cli(*args: str, log: Any = None) -> subprocess.Popen:
    env = dict(os.environ, DO_NOT_TRACK="1", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "monitor.cli", *args], env=env, stdout=log, stderr=log)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, procs: tuple = ()) -> Any:
    """Poll until ``predicate`` is truthy; fail naming ``what``, or at once if a process died."""
    return wait_until(predicate, timeout, what, poll=0.5, procs=procs)


def stop_all(procs: list[subprocess.Popen | None]) -> None:
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        if proc is None:
            continue
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def write_config(
    folder: Path, models: list[dict], rules: str, api_port: int, concurrency: int = 1, **extra: Any
) -> Path:
    (folder / "api-token").write_text("api-secret\n")
    (folder / "server-token").write_text("server-secret\n")
    (folder / "rules.yaml").write_text(rules)
    config = {
        "state": f"sqlite:///{folder / 'state' / 'state.db'}",
        "registry": str(folder / "state" / "registry"),
        "api": {"listen": f"127.0.0.1:{api_port}", "token_file": str(folder / "api-token")},
        "rules": [str(folder / "rules.yaml")],
        "jobs": {"executor": "local", "concurrency": concurrency, "timeout": "10m"},
        "models": models,
        **extra,
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def model_entry(folder: Path, name: str, server_port: int, **extra: Any) -> dict:
    return {
        "name": name,
        "server": {"url": f"http://127.0.0.1:{server_port}", "token_file": str(folder / "server-token")},
        "data": {"predictions": str(folder / "logs" / name), "label_column": LABEL},
        "features": FEATURES,
        "recipe": RECIPE,
        "check": {"every": "2s", "window": "30s", "min_rows": 40},
        **extra,
    }


def train_v1(folder: Path, name: str, frame: pd.DataFrame) -> None:
    from reoptimize.job.first_versions import train_first_version
    from reoptimize.registry.backends import open_registry

    train_first_version(open_registry(folder / "state" / "registry"), name, RECIPE, frame, FEATURES, LABEL)


def api_get(api: str, path: str, **params: Any) -> Any:
    response = requests.get(api + path, params=params, timeout=10)
    response.raise_for_status()
    return response.json() if "json" in response.headers.get("content-type", "") else response.text


def finished_job(api: str, model: str) -> dict | None:
    jobs = api_get(api, "/api/v1/jobs", model=model)
    done = [j for j in jobs if j["state"] not in ("queued", "running")]
    return done[-1] if done else None
