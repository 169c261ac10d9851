"""What the command line prints for people gives moments in RFC 3339 or relative, never raw Unix
seconds; ``--json`` keeps the seconds exactly as the store holds them.

The decision messages come from the real supervisor and promoter handling a finished job (the
worker's result is written into the store as a worker would write it), and the commands read
the same SQLite store and file registry a daemon would.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from tests.support.handled_jobs import TRIGGERED_AT as T
from tests.support.handled_jobs import HandledWorld, handle_passing_job, make_world
from tests.support.job_results import job_result_json

RFC3339 = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\b")
# Ten digits standing alone, with or without a fraction: a Unix timestamp printed raw.
RAW_TIMESTAMP = re.compile(r"(?<![\w.])\d{10}(?:\.\d+)?(?![\w.])")
runner = CliRunner()


@pytest.fixture
def world(tmp_path: Path, loopback):
    built = make_world(tmp_path, loopback)
    yield built
    built.store.close()


def test_decision_messages_give_the_trigger_in_rfc3339(world: HandledWorld) -> None:
    job_id = handle_passing_job(world)
    messages = {d.kind: d.message for d in world.store.decisions.list("churn", job_id=job_id)}
    assert set(messages) == {"verdict", "promotion"}, messages
    expected = (
        "trigger: rule feature-drift source=rule at 2026-12-08T00:02:48Z, 9 s after the condition became true"
    )
    for kind, message in messages.items():
        assert expected in message, (kind, message)
        assert not RAW_TIMESTAMP.search(message), (kind, message)


def test_decisions_prints_rfc3339_and_its_json_keeps_seconds(world: HandledWorld) -> None:
    config, store = world.config, world.store
    job_id = handle_passing_job(world)
    store.decisions.append(T, "transition", "rule feature-drift firing for churn", model="churn")
    out = runner.invoke(app, ["decisions", "-c", str(config)])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert any(line.startswith("2026-12-08T00:02:48Z  transition ") for line in lines), out.output
    assert all(RFC3339.match(line) for line in lines if not line.startswith(" ")), out.output
    assert not RAW_TIMESTAMP.search(out.output), out.output

    raw = runner.invoke(app, ["decisions", "-c", str(config), "--job", job_id, "--json"])
    entries = json.loads(raw.output)
    assert {d["kind"] for d in entries} == {"verdict", "promotion"}
    assert all(isinstance(d["at"], float) for d in entries)
    assert json.loads(runner.invoke(app, ["decisions", "-c", str(config), "--json"]).output)[0]["at"] == T


def test_jobs_list_and_show_print_rfc3339_in_utc(world: HandledWorld) -> None:
    config, store = world.config, world.store
    job_id = handle_passing_job(world)
    queued = store.jobs.create("fraud", "quantize", {}, {}, T + 3600)

    listed = runner.invoke(app, ["jobs", "-c", str(config)])
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if line.startswith(job_id))
    assert "2026-12-08T00:02:48Z v2" in row
    assert "2026-12-08T01:02:48Z -" in next(line for line in listed.output.splitlines() if queued.id in line)
    assert not RAW_TIMESTAMP.search(listed.output), listed.output

    shown = runner.invoke(app, ["jobs", "show", job_id, "-c", str(config)])
    assert shown.exit_code == 0, shown.output
    for line in (
        "created_at         2026-12-08T00:02:48Z",
        "started_at         2026-12-08T00:02:49Z",
        "finished_at        2026-12-08T00:03:30Z",
    ):
        assert line in shown.output
    assert "9 s after the condition became true" in shown.output
    assert "finished_at        -" in runner.invoke(app, ["jobs", "show", queued.id, "-c", str(config)]).output
    assert not RAW_TIMESTAMP.search(shown.output), shown.output

    as_json = json.loads(runner.invoke(app, ["jobs", "show", job_id, "-c", str(config), "--json"]).output)
    assert (as_json["created_at"], as_json["started_at"], as_json["finished_at"]) == (T, T + 1, T + 42.5)


def test_jobs_show_writes_an_older_verdict_text_again(world: HandledWorld) -> None:
    config, store = world.config, world.store
    job = store.jobs.create("churn", "retrain", {}, {}, T)
    store.jobs.mark_running(job.id, T)
    result = job_result_json(job.id, "churn")
    result["verdict"]["trigger"] = {"rule": "feature-drift", "at": T, "condition_since": T - 9}
    # the text as it was stored before times were written for people
    result["verdict"]["text"] += f"\n  trigger: rule feature-drift at={T} condition_since={T - 9}"
    store.jobs.finish(job.id, "succeeded", T + 5, result=result)
    shown = runner.invoke(app, ["jobs", "show", job.id, "-c", str(config)])
    assert shown.exit_code == 0, shown.output
    assert shown.output.rstrip().endswith(
        "  trigger: rule feature-drift at 2026-12-08T00:02:48Z, 9 s after the condition became true"
    )
    assert not RAW_TIMESTAMP.search(shown.output), shown.output
    stored = json.loads(runner.invoke(app, ["jobs", "show", job.id, "-c", str(config), "--json"]).output)
    assert stored["result"]["verdict"]["text"] == result["verdict"]["text"]  # the JSON is left as it was


def test_status_says_how_long_ago_each_check_ran(world: HandledWorld) -> None:
    config, store = world.config, world.store
    now = time.time()
    churn_at, fraud_at = now - 125, now - 400  # checks every minute: fraud's is stale
    store.checks.record("churn", "1", churn_at, {"rows": 10.0}, {})
    store.checks.record("fraud", None, fraud_at, {"rows": 10.0}, {})

    out = runner.invoke(app, ["status", "-c", str(config)])
    assert out.exit_code == 3, out.output  # fraud is stale
    churn = next(line for line in out.output.splitlines() if line.startswith("churn"))
    assert " 2 min ago " in churn, out.output
    assert "fraud: last check 6 min ago (checks every 60s)" in out.output
    assert not RAW_TIMESTAMP.search(out.output), out.output

    data = json.loads(runner.invoke(app, ["status", "-c", str(config), "--json"]).output)
    assert {m["model"]: m["last_check_at"] for m in data["models"]} == {"churn": churn_at, "fraud": fraud_at}


def test_state_info_and_restore_print_when(world: HandledWorld) -> None:
    config, store, tmp_path = world.config, world.store, world.root
    backup = tmp_path / "backup.db"
    made = runner.invoke(app, ["state", "backup", str(backup), "-c", str(config)])
    assert made.exit_code == 0, made.output
    store.close()
    restored = runner.invoke(app, ["state", "restore", str(backup), "-c", str(config)])
    assert restored.exit_code == 0, restored.output
    assert RFC3339.search(restored.output.splitlines()[0]) and "a backup of sqlite:///" in restored.output
    info = runner.invoke(app, ["state", "info", "-c", str(config)])
    assert info.exit_code == 0, info.output
    line = next(x for x in info.output.splitlines() if x.startswith("restored   from "))
    assert len(RFC3339.findall(line)) == 2, line
    assert not RAW_TIMESTAMP.search(info.output + restored.output)
