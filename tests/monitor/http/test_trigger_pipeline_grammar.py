"""One pipeline grammar everywhere: rule files, the API's trigger and the command line's trigger.

The daemon runs in-process with its real HTTP API on loopback, in dry-run mode, so a trigger
records what would have run (the pipeline as stored) without starting a worker.
"""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import yaml

from monitor.config import load_config
from monitor.daemon.wiring import build_daemon
from monitor.decide.rule_runner import RulesLoadError, load_ruleset
from reoptimize.job.first_versions import register_version
from reoptimize.registry.file_registry import FileRegistry
from tests.support.onnx_models import linear_classifier

TOKEN = "grammar-test-token"
# Every form the grammar accepts, and the name a job stores for it.
FORMS = [
    ("retrain, quantize", "retrain+quantize"),
    ("retrain+quantize", "retrain+quantize"),
    (["retrain", "quantize"], "retrain+quantize"),
    ("retrain -> quantize", "retrain+quantize"),
    ("retrain → quantize", "retrain+quantize"),
    ("quantize", "quantize"),
    ("auto", "auto"),
]
UNKNOWN = "retrain+distil"
UNKNOWN_MESSAGE = "unknown step 'distil' (known steps: retrain, prune, quantize, distill, tune, export); did you mean distill?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(tmp_path: Path, loopback_url: str, rules: Path | None = None) -> Path:
    port = _free_port()
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "state": f"sqlite:///{tmp_path}/state.db",
                "registry": str(tmp_path / "registry"),
                "api": {"listen": f"127.0.0.1:{port}", "token": TOKEN},
                "dry_run": True,
                "rules": [str(rules)] if rules else [],
                "models": [
                    {
                        "name": "m",
                        "server": {"url": loopback_url},
                        "data": {"predictions": str(tmp_path / "predictions")},
                        "check": {"every": "1h"},
                    }
                ],
            }
        )
    )
    return path


@pytest.fixture
def daemon(tmp_path: Path, loopback):
    loopback.handler = lambda req: (200, b"", "text/plain")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    frame["label"] = (frame["a"] > 0).astype(int)
    onnx_bytes = linear_classifier(np.array([[-3.0, 3.0], [0, 0], [0, 0]]))
    register_version(
        FileRegistry(tmp_path / "registry"),
        "m",
        onnx_bytes,
        frame,
        ("a", "b", "c"),
        "label",
        task="classification",
    )
    config = load_config(_config(tmp_path, loopback.url))
    d = build_daemon(config, tmp_path / "config.yaml")
    d.start()
    yield d, f"http://127.0.0.1:{config.api.port}"
    d.stop(grace=5)


def _stored_pipelines(url: str) -> list[str]:
    decisions = requests.get(url + "/api/v1/decisions", params={"model": "m", "kind": "guard"}).json()
    return [d["data"]["proposal"]["action"]["pipeline"] for d in reversed(decisions)]


def test_rule_files_store_every_form_alike(tmp_path: Path) -> None:
    actions = [{"pipeline": form} for form, _ in FORMS]
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"rules": [{"name": "r", "when": "rows > 1", "actions": actions}]}))
    ruleset = load_ruleset(load_config(_config(tmp_path, "http://127.0.0.1:1", rules)))
    (rule,) = ruleset.rules
    assert [a.pipeline for a in rule.actions] == [stored for _, stored in FORMS]
    assert all(a.starts_job for a in rule.actions)
    rules.write_text(
        yaml.safe_dump({"rules": [{"name": "r", "when": "rows > 1", "actions": [{"pipeline": UNKNOWN}]}]})
    )
    with pytest.raises(RulesLoadError) as caught:
        load_ruleset(load_config(_config(tmp_path, "http://127.0.0.1:1", rules)))
    assert (
        str(caught.value)
        == f"{rules}: rule 'r' (rules[0]).actions[0].pipeline: got {UNKNOWN!r}; {UNKNOWN_MESSAGE}"
    )


def test_the_api_trigger_stores_every_form_alike(daemon) -> None:
    _, url = daemon
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for form, _ in FORMS:
        answer = requests.post(url + "/api/v1/models/m/trigger", json={"pipeline": form}, headers=auth)
        assert answer.status_code == 202 and answer.json()["would_run"] is True, answer.text
    assert _stored_pipelines(url) == [stored for _, stored in FORMS]
    refused = requests.post(url + "/api/v1/models/m/trigger", json={"pipeline": UNKNOWN}, headers=auth)
    assert refused.status_code == 422
    assert refused.json()["detail"] == f"pipeline: got {UNKNOWN!r}; {UNKNOWN_MESSAGE}"


def test_the_cli_trigger_stores_every_form_alike(daemon, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from monitor.cli import app

    _, url = daemon
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    runner = CliRunner()
    text_forms = [(form, stored) for form, stored in FORMS if isinstance(form, str)]
    for form, _ in text_forms:
        result = runner.invoke(app, ["trigger", "m", form, "--api", url, "--token-file", str(token_file)])
        # Dry run: the daemon answers "not queued", which the command reports with exit code 1.
        assert result.exit_code == 1 and "not queued: dry run" in result.output, result.output
    assert _stored_pipelines(url) == [stored for _, stored in text_forms]
    result = runner.invoke(app, ["trigger", "m", UNKNOWN, "--api", url, "--token-file", str(token_file)])
    assert result.exit_code == 2
    assert f"error: pipeline: got {UNKNOWN!r}; {UNKNOWN_MESSAGE}" in result.output
    assert len(_stored_pipelines(url)) == len(text_forms), "a refused pipeline never reaches the daemon"
