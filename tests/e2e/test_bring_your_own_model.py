"""A user's own model and data, set up only with the commands the README shows.

The "user" trains a torch classifier on generated tabular data with their own code, exports
it to ONNX with their own input and output names, and then uses the CLI: `models register`,
`serve`, `run` and `replay` (with a shift of four informative features and labels posted to
the daemon). The daemon must close the loop: drift, rule, retrain job, gate, promotion, reload.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import yaml

from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

FEATURES = [f"f{i}" for i in range(12)]
RULES = """
rules:
  - name: tenure-drift
    when: drift_share > 0.2 && rows >= 100
    for: 8s
    cooldown: 30s
    actions:
      - pipeline: retrain
        with: {max_epochs: 40, window_seconds: 60}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _user_model(train: pd.DataFrame, path: Path) -> None:
    """What a user brings: their own training code and ONNX export, not modelhealthd's."""
    import torch

    torch.manual_seed(0)
    x = torch.tensor(train[FEATURES].to_numpy(np.float32))
    y = torch.tensor(train["churned"].to_numpy(np.int64))
    mean, std = x.mean(0), x.std(0)
    net = torch.nn.Sequential(torch.nn.Linear(12, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(300):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net((x - mean) / std), y).backward()
        opt.step()

    class Served(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.register_buffer("mean", mean)
            self.register_buffer("std", std)

        def forward(self, rows: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.net((rows - self.mean) / self.std), dim=1)

    with torch.no_grad():
        torch.onnx.export(
            Served(), (x[:2],), str(path), input_names=["rows"], output_names=["probs"],
            dynamic_axes={"rows": {0: "n"}, "probs": {0: "n"}}, dynamo=False,
        )  # fmt: skip


def _cli(*args: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, DO_NOT_TRACK="1")
    return subprocess.Popen([sys.executable, "-m", "monitor.cli", *args], env=env, **kwargs)


def _wait(predicate, timeout: float, what: str, procs=()) -> None:  # noqa: ANN001
    wait_until(predicate, timeout, what, poll=0.5, procs=procs)


def test_a_user_model_closes_the_loop_from_the_readme_commands(tmp_path: Path) -> None:
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=6000, n_features=12, n_informative=8, n_redundant=0, class_sep=1.5, random_state=3
    )
    frame = pd.DataFrame(x, columns=FEATURES)
    frame["churned"] = y
    # The user trained on their own training rows; the reference is data the model never saw.
    _user_model(frame.iloc[:1500], tmp_path / "churn.onnx")
    frame.iloc[1500:3000].to_parquet(tmp_path / "reference.parquet")
    frame.iloc[3000:].to_parquet(tmp_path / "traffic.parquet")

    api_port, server_port = _free_port(), _free_port()
    (tmp_path / "api-token").write_text("api-secret\n")
    (tmp_path / "server-token").write_text("server-secret\n")
    (tmp_path / "rules.yaml").write_text(RULES)
    config = {
        "state": "sqlite:///state/state.db",
        "registry": "state/registry",
        "api": {"listen": f"127.0.0.1:{api_port}", "token_file": "api-token"},
        "rules": ["rules.yaml"],
        "models": [
            {
                "name": "churn",
                "server": {
                    "url": f"http://127.0.0.1:{server_port}",
                    "token_file": str(tmp_path / "server-token"),
                },
                "data": {"predictions": "logs/churn", "label_column": "churned"},
                "recipe": {"factory": "reoptimize.recipes.mlp:mlp", "params": {"hidden": [32]}},
                "check": {"every": "2s", "window": "20s", "min_rows": 100},
            }
        ],
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    cfg = str(tmp_path / "config.yaml")

    assert _cli("config", "validate", cfg).wait(60) == 0
    register = _cli("models", "register", "churn", "--onnx", str(tmp_path / "churn.onnx"),
                    "--reference", str(tmp_path / "reference.parquet"), "-c", cfg)  # fmt: skip
    assert register.wait(120) == 0
    logs = open(tmp_path / "processes.log", "wb")  # noqa: SIM115 - closed at the end
    server = _cli("serve", "--registry", str(tmp_path / "state/registry"), "--model", "churn",
                  "--port", str(server_port), "--predictions", str(tmp_path / "logs/churn"),
                  "--token-file", str(tmp_path / "server-token"), stdout=logs, stderr=logs)  # fmt: skip
    daemon = _cli("run", "-c", cfg, "--log-format", "text", stdout=logs, stderr=logs)
    api, srv = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{server_port}"
    replay = None
    try:
        _wait(lambda: requests.get(srv + "/readyz", timeout=2).ok, 60, "the server", [server])
        _wait(lambda: requests.get(api + "/healthz", timeout=2).ok, 60, "the daemon", [daemon])
        replay = _cli("replay", "--url", srv, "--data", str(tmp_path / "traffic.parquet"),
                      "--label-column", "churned", "--rate", "40", "--duration", "75s", "--drift-at", "10s",
                      "--drift", "shift", "--drift-features", "f0,f1,f2,f3", "--drift-amount", "2",
                      "--labels-url", api, "--labels-token-file", str(tmp_path / "api-token"),
                      "--label-delay", "1s", stdout=logs, stderr=logs)  # fmt: skip

        def promoted() -> bool:
            promotions = requests.get(api + "/api/v1/promotions", params={"model": "churn"}, timeout=5).json()
            return any(p["state"] == "done" and p["to_version"] == "2" for p in promotions)

        _wait(promoted, 150, "a promotion of v2", [server, daemon])
        _wait(lambda: requests.post(srv + "/predict", json={"rows": [dict.fromkeys(FEATURES, 0.0)]},
                                    timeout=5).json()["version"] == "2", 30, "the server to serve v2")  # fmt: skip
        kinds = {d["kind"] for d in requests.get(api + "/api/v1/decisions", params={"model": "churn"}).json()}
        assert {"transition", "guard", "action", "verdict", "promotion"} <= kinds
        card = requests.get(api + "/api/v1/models/churn/versions/2/card", params={"format": "md"})
        assert card.ok and "## Gate verdict" in card.text and "## What the model does" in card.text
        # A candidate the gate rejects (its gain could be chance on few rows) is retried after the
        # cooldown, on more of the drifted traffic; the job that promoted passed the gate.
        jobs = requests.get(api + "/api/v1/jobs", params={"model": "churn"}).json()
        job = next(j for j in jobs if (j.get("result") or {}).get("verdict", {}).get("passed"))
        assert job["result"]["candidate"]["recent_accuracy"] > job["result"]["champion"]["recent_accuracy"]
    finally:
        for proc in (replay, daemon, server):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (replay, daemon, server):
            if proc is not None:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        logs.close()
    manifest = yaml.safe_load((tmp_path / "state/registry/churn/versions/2/manifest.json").read_text())
    assert manifest["parent"] == "1" and manifest["lineage"]["trigger"]["rule"] == "tenure-drift"
