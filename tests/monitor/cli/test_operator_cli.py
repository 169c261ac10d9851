"""``modelhealthd status`` and ``jobs``: from the state store, and through a running daemon's API.

Also checks that every command answers ``--help`` and that the ones that report data take
``--json``.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
import typer
import yaml
from typer.testing import CliRunner

from monitor.cli import app
from monitor.cli.operator_view import model_status
from monitor.config import load_config
from monitor.daemon.wiring import build_daemon
from monitor.state.store import StateStore
from reoptimize.job.first_versions import register_version
from reoptimize.registry.backends import open_registry
from tests.support.onnx_models import linear_classifier

if TYPE_CHECKING:
    from tests.monitor.conftest import LoopbackServer

runner = CliRunner()
TOKEN = "operator-token"


@pytest.fixture
def setup(tmp_path: Path, loopback, store_url: str):
    loopback.handler = lambda req: (200, b"", "text/plain")
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(200, 2)), columns=["a", "b"])
    frame["label"] = (frame["a"] > 0).astype(int)
    registry = open_registry(tmp_path / "registry")
    for name in ("churn", "fraud"):
        register_version(
            registry, name, linear_classifier(np.eye(2)), frame, ("a", "b"), "label", "classification"
        )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "config.yaml"
    model = {
        "server": {"url": loopback.url},
        "data": {"predictions": str(tmp_path / "p")},
        "check": {"every": "1m"},
    }
    config.write_text(
        yaml.safe_dump(
            {
                "state": store_url,  # SQLite, then PostgreSQL
                "registry": str(tmp_path / "registry"),
                "api": {"listen": f"127.0.0.1:{port}", "token": TOKEN},
                "models": [{"name": "churn"} | model, {"name": "fraud"} | model],
            }
        )
    )
    return config, StateStore.open(store_url), f"http://127.0.0.1:{port}"


def _invoke(*args: str):  # noqa: ANN202
    return runner.invoke(app, list(args))


def test_status_exit_code_follows_health(setup) -> None:
    config, store, _ = setup
    unknown = _invoke("status", "-c", str(config), "--json")
    assert unknown.exit_code == 3
    data = json.loads(unknown.output)
    assert data["daemon"]["running"] is False
    assert {m["model"]: m["health"] for m in data["models"]} == {"churn": "unknown", "fraud": "unknown"}

    now = time.time()
    for name in ("churn", "fraud"):
        store.checks.record(name, "1", now, {"rows": 10.0}, {})
    ok = _invoke("status", "-c", str(config))
    assert ok.exit_code == 0, ok.output
    assert "daemon: not running" in ok.output and "churn" in ok.output and "v1" in ok.output

    store.rule_states.save("fraud", {"drift": {"state": "firing"}}, now)
    job = store.jobs.create("fraud", "retrain", {}, {}, now=now)
    store.jobs.mark_running(job.id, now)
    firing = _invoke("status", "-c", str(config))
    assert firing.exit_code == 3
    assert "firing" in firing.output and job.id in firing.output and "retrain running" in firing.output


@pytest.mark.parametrize(
    ("check", "rules", "health"),
    [
        (None, {}, "unknown"),
        ({"at": 1000.0, "ok": False, "error": "boom"}, {}, "failing"),
        ({"at": 1000.0 - 181, "ok": True}, {}, "stale"),
        ({"at": 1000.0, "ok": True}, {"r": "firing", "q": "pending"}, "firing"),
        ({"at": 1000.0 - 179, "ok": True}, {"q": "pending"}, "ok"),
    ],
)
def test_health_verdicts(check, rules, health) -> None:  # noqa: ANN001
    summary = {"model": "m", "last_check": check, "rules": rules}
    assert model_status(summary, 60.0, now=1000.0).health == health


def test_a_check_without_its_time_is_unknown_not_a_crash() -> None:
    summary = {"model": "m", "last_check": {"ok": True}, "rules": {}}
    status = model_status(summary, 60.0, now=1000.0)
    assert (status.health, status.reason) == ("unknown", "the last check carries no time")


def test_an_api_answer_of_the_wrong_shape_exits_1_naming_it(loopback: LoopbackServer) -> None:
    loopback.handler = lambda req: (200, b'["not", "a job"]', "application/json")
    shown = _invoke("jobs", "show", "j1", "--api", loopback.url)
    assert shown.exit_code == 1
    assert "answered /api/v1/jobs/j1 with ['not', 'a job']; expected a JSON object" in shown.output

    loopback.handler = lambda req: (200, b'{"jobs": []}', "application/json")
    listed = _invoke("jobs", "--api", loopback.url)
    assert listed.exit_code == 1
    assert "answered /api/v1/jobs with {'jobs': []}; expected a list of JSON objects" in listed.output


def test_jobs_list_show_and_cancel_from_the_store(setup) -> None:
    config, store, _ = setup
    now = time.time()
    done = store.jobs.create("churn", "retrain", {}, {"rule": "drift"}, now=now - 10, rule="drift")
    store.jobs.mark_running(done.id, now - 9)
    store.jobs.finish(done.id, "failed", now - 5, error="worker exited with code 1")
    queued = store.jobs.create("churn", "quantize", {}, {}, now=now)

    listed = _invoke("jobs", "-c", str(config), "--json")
    assert listed.exit_code == 0 and [j["id"] for j in json.loads(listed.output)] == [queued.id, done.id]
    only = _invoke("jobs", "-c", str(config), "--state", "failed")
    assert only.exit_code == 0 and done.id in only.output and queued.id not in only.output
    assert _invoke("jobs", "-c", str(config), "--state", "sleeping").exit_code == 2

    shown = _invoke("jobs", "show", done.id, "-c", str(config))
    assert shown.exit_code == 0 and "worker exited with code 1" in shown.output
    assert _invoke("jobs", "show", "nope", "-c", str(config)).exit_code == 1

    cancelled = _invoke("jobs", "cancel", queued.id, "-c", str(config), "--json")
    assert cancelled.exit_code == 0
    assert json.loads(cancelled.output) == {"job": queued.id, "cancelled": True, "state": "cancelled"}
    assert store.jobs.get(queued.id).error == "cancelled from the command line"
    assert _invoke("jobs", "cancel", queued.id, "-c", str(config)).exit_code == 3
    assert _invoke("jobs", "cancel", "nope", "-c", str(config)).exit_code == 1


def test_status_and_jobs_through_the_api(setup) -> None:
    config, store, url = setup
    daemon = build_daemon(load_config(config), config)
    daemon.start()
    try:
        job = store.jobs.create("churn", "retrain", {}, {}, now=time.time())
        daemon.supervisor.draining = True  # keep it queued: this test is about the commands
        status = _invoke("status", "--api", url, "-c", str(config), "--json")
        assert status.exit_code in (0, 3), status.output
        data = json.loads(status.output)
        assert data["daemon"]["ready"] is True and [m["model"] for m in data["models"]] == ["churn", "fraud"]
        assert job.id in data["daemon"]["jobs"]

        listed = _invoke("jobs", "--api", url, "--json")
        assert listed.exit_code == 0 and json.loads(listed.output)[0]["id"] == job.id
        cancelled = _invoke("jobs", "cancel", job.id, "--api", url, "-c", str(config))
        assert cancelled.exit_code == 0, cancelled.output
        assert _invoke("jobs", "cancel", job.id, "--api", url, "-c", str(config)).exit_code == 3
        assert _invoke("jobs", "cancel", "nope", "--api", url, "-c", str(config)).exit_code == 1
        refused = _invoke("jobs", "cancel", job.id, "--api", url, "-c", "/nonexistent.yaml")
        assert refused.exit_code == 1 and "401" in refused.output
    finally:
        daemon.stop(grace=1)
    unreachable = _invoke("status", "--api", url, "-c", str(config))
    assert unreachable.exit_code == 1 and "unreachable" in unreachable.output


# Commands that only start a process or print a fixed document have no data to shape as JSON.
NO_JSON = {"run", "serve", "demo", "replay", "config schema"}


def _leaves(group, prefix: str = "") -> list[tuple[str, object]]:  # noqa: ANN001 - typer's click group
    out = []
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if hasattr(command, "commands"):
            if command.invoke_without_command:
                out.append((path, command))
            out += _leaves(command, path + " ")
        else:
            out.append((path, command))
    return out


def test_every_command_has_help_and_the_reporting_ones_have_json() -> None:
    root = typer.main.get_command(app)
    leaves = _leaves(root)
    assert {"status", "jobs", "jobs cancel", "jobs show", "state backup", "state restore"} <= {
        n for n, _ in leaves
    }
    missing_json = []
    for path, command in leaves:
        result = _invoke(*path.split(), "--help")
        assert result.exit_code == 0, f"{path} --help: {result.output}"
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        if path not in NO_JSON and "--json" not in options:
            missing_json.append(path)
    assert missing_json == [], f"commands without --json: {missing_json}"
