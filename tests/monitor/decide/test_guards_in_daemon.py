"""The guards as the daemon runs them: settings from the config, dry run, inhibition by a
post-promotion watch, the circuit breaker and its reset by a person (API and CLI), and the
decision log on the command line. Real daemon, HTTP API, SQLite and CLI."""

from __future__ import annotations

import json
import time

import pytest
import requests
from typer.testing import CliRunner

from monitor.cli import app as cli_app
from monitor.config import load_config
from monitor.decide.rule_runner import guard_settings
from tests.support.alerting import auth, register_model, start_daemon, write_config

TRIGGER = {"pipeline": "retrain", "reason": "test"}


@pytest.fixture
def setup(tmp_path, loopback):
    loopback.handler = lambda req: (200, b"", "text/plain")
    register_model(tmp_path / "registry")
    started = []

    def make(rules_text: str | None = None, **extra):
        path = write_config(tmp_path, loopback.url, **({"rules": rules_text} if rules_text else {}), **extra)
        daemon, url = start_daemon(path)
        started.append(daemon)
        return daemon, url, path

    yield make
    for daemon in started:
        daemon.stop(grace=5)


def fail_jobs(daemon, n: int, model: str = "m") -> None:
    """Record ``n`` failed jobs, as workers that crashed would leave them."""
    for _ in range(n):
        job = daemon.store.jobs.create(model, "retrain", {}, {}, now=time.time(), rule="drift")
        daemon.store.jobs.mark_running(job.id, time.time())
        daemon.store.jobs.finish(job.id, "failed", time.time(), error="worker crashed")


def cli(*args: str):
    return CliRunner().invoke(cli_app, list(args))


def test_the_guards_section_sets_every_limit(tmp_path, loopback) -> None:
    guards = {
        "daily_budget": 2,
        "budget_window": "12h",
        "blast_radius": 4,
        "blast_radius_window": "30m",
        "breaker_threshold": 5,
        "breaker_half_open_after": "2h",
        "default_cooldown": "15m",
    }
    s = guard_settings(
        load_config(write_config(tmp_path, loopback.url, guards=guards, jobs={"concurrency": 3}))
    )
    assert (s.daily_budget, s.budget_window_s, s.blast_radius, s.blast_radius_window_s) == (2, 43200, 4, 1800)
    assert (s.breaker_threshold, s.breaker_reset_s, s.default_cooldown_s) == (5, 7200, 900)
    assert s.concurrency == 3  # from jobs.concurrency unless guards.concurrency is set
    s = guard_settings(load_config(write_config(tmp_path, loopback.url, guards={"concurrency": 2})))
    assert s.concurrency == 2 and s.breaker_reset_s is None


def test_dry_run_records_what_would_have_run_and_starts_nothing(setup) -> None:
    daemon, url, _ = setup(dry_run=True)
    reply = requests.post(url + "/api/v1/models/m/trigger", json=TRIGGER, headers=auth())
    assert reply.status_code == 202 and reply.json()["would_run"] and not reply.json()["queued"]
    assert daemon.store.jobs.list("m") == []
    [guard] = requests.get(url + "/api/v1/decisions", params={"kind": "guard"}).json()
    assert guard["message"] == "dry run: would have run retrain for m (rule manual); every guard allowed it"
    assert guard["data"]["would_run"] and guard["data"]["dry_run"]


def test_a_post_promotion_watch_inhibits_jobs_for_its_model(setup) -> None:
    daemon, url, _ = setup()
    watched = {"m"}
    daemon.rules.watch_with(lambda model: model in watched)
    reply = requests.post(url + "/api/v1/models/m/trigger", json=TRIGGER, headers=auth()).json()
    assert not reply["queued"] and reply["reason"] == "a post-promotion watch is running for m"
    watched.clear()
    assert requests.post(url + "/api/v1/models/m/trigger", json=TRIGGER, headers=auth()).json()["queued"]


def test_an_open_breaker_refuses_jobs_until_a_person_resets_it_over_the_api(setup) -> None:
    daemon, url, _ = setup(guards={"breaker_threshold": 2})
    fail_jobs(daemon, 2)
    reply = requests.post(url + "/api/v1/models/m/trigger", json=TRIGGER, headers=auth()).json()
    assert not reply["queued"] and "a person must reset it" in reply["reason"]
    assert requests.get(url + "/api/v1/models/m/breaker").json() == {
        "model": "m",
        "open": True,
        "consecutive_failures": 2,
        "threshold": 2,
    }
    assert 'modelhealth_circuit_breaker_open{model="m"} 1.0' in requests.get(url + "/metrics").text
    # what ModelhealthdCheckStale compares the last success with
    assert 'modelhealth_check_interval_seconds{model="m"} 3600.0' in requests.get(url + "/metrics").text
    assert requests.post(url + "/api/v1/models/m/breaker/reset").status_code == 401
    assert requests.post(url + "/api/v1/models/nope/breaker/reset", headers=auth()).status_code == 404
    reset = requests.post(
        url + "/api/v1/models/m/breaker/reset",
        json={"reason": "fixed the recipe", "by": "alice"},
        headers=auth(),
    )
    assert reset.status_code == 200 and reset.json()["open"] is False
    assert reset.json()["decision"]["message"] == (
        "circuit breaker of m reset by alice: fixed the recipe (2 failed job(s) in a row forgiven)"
    )
    assert 'modelhealth_circuit_breaker_open{model="m"} 0.0' in requests.get(url + "/metrics").text
    assert requests.post(url + "/api/v1/models/m/trigger", json=TRIGGER, headers=auth()).json()["queued"]
    [entry] = requests.get(url + "/api/v1/decisions", params={"kind": "reset"}).json()
    assert entry["data"] == {
        "guard": "circuit_breaker",
        "by": "alice",
        "reason": "fixed the recipe",
        "failures_forgiven": 2,
    }


def test_the_breaker_cli_shows_and_resets_a_breaker_the_daemon_honours(setup) -> None:
    daemon, url, path = setup(guards={"breaker_threshold": 1})
    fail_jobs(daemon, 1)
    status = cli("breaker", "status", "-c", str(path), "--json")
    assert status.exit_code == 0 and json.loads(status.stdout)[0]["open"] is True
    assert cli("breaker", "reset", "nope", "-c", str(path)).exit_code == 2
    reset = cli("breaker", "reset", "m", "--reason", "flaky disk replaced", "--by", "bob", "-c", str(path))
    assert reset.exit_code == 0 and "reset by bob: flaky disk replaced" in reset.stdout
    assert "closed" in cli("breaker", "status", "-c", str(path)).stdout
    reply = requests.post(url + "/api/v1/models/m/trigger", json=TRIGGER, headers=auth()).json()
    assert reply["queued"], reply


def test_the_decisions_cli_filters_and_prints_json(setup) -> None:
    daemon, url, path = setup()
    requests.post(url + "/api/v1/models/m/trigger", json=TRIGGER, headers=auth())
    text = cli("decisions", "-c", str(path), "--model", "m")
    assert text.exit_code == 0
    lines = text.stdout.splitlines()
    assert any(" guard " in line and "allowed retrain for m (rule manual)" in line for line in lines)
    assert any(" action " in line and "queued job" in line for line in lines)
    as_json = json.loads(
        cli("decisions", "-c", str(path), "--kind", "guard", "--limit", "1", "--json").stdout
    )
    assert len(as_json) == 1 and as_json[0]["kind"] == "guard"
    assert [v["guard"] for v in as_json[0]["data"]["verdicts"]][0] == "inhibition"
    assert as_json == requests.get(url + "/api/v1/decisions", params={"kind": "guard", "limit": 1}).json()
    bad = cli("decisions", "-c", str(path), "--kind", "bogus")
    assert bad.exit_code == 2 and "expected one of transition" in bad.stderr
    assert cli("decisions", "-c", str(path), "--model", "nope").exit_code == 2


def test_a_metrics_rule_job_carries_the_drifted_features_for_augment_auto(setup) -> None:
    from monitor.measurements import FeatureScore, Measurements

    rules = "rules:\n  - name: drift\n    when: drift_share > 0.3\n    actions: [{pipeline: retrain, with: {augment: auto}}]\n"
    daemon, url, _ = setup(rules_text=rules)
    features = (FeatureScore("a", "ks", 0.9, 0.1, True), FeatureScore("b", "ks", 0.01, 0.1, False))
    daemon.rules.after_check(
        daemon.config.model("m"), Measurements("m", "1", time.time(), {"drift_share": 0.5}, features=features)
    )
    [job] = daemon.store.jobs.list("m")
    assert job.rule == "drift" and job.params == {"augment": "auto"}
    assert job.trigger["drifted_features"] == ["a"] and job.trigger["inputs"] == {"drift_share": 0.5}
