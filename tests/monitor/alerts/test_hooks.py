"""Webhook intake against the real daemon and its HTTP API on loopback.

Alertmanager delivers at least once and Grafana retries too: duplicate, concurrent,
out-of-order, unauthenticated, unsigned, stale and oversized deliveries must end in exactly one
job per alert episode, with the status codes the senders act on (2xx done, 5xx retry, 4xx drop).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from monitor.alerts.signature import SignatureCheck
from tests.support.alerting import (
    TOKEN,
    alert,
    auth,
    notification,
    register_model,
    start_daemon,
    write_config,
)
from tests.support.waiting import wait_until

SECRET = "grafana-hmac-secret"


@pytest.fixture
def make_daemon(tmp_path, loopback):
    loopback.handler = lambda req: (200, b"", "text/plain")
    started = []

    def make(**extra):
        register_model(tmp_path / "registry")
        daemon, url = start_daemon(write_config(tmp_path, loopback.url, **extra))
        started.append(daemon)
        return daemon, url

    yield make
    for daemon in started:
        daemon.stop(grace=5)


def post(url: str, body, headers=None, source: str = "alertmanager") -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **(headers if headers is not None else auth())}
    return requests.post(f"{url}/hooks/{source}", data=data, headers=headers, timeout=30)


def jobs(daemon) -> list:
    return daemon.store.jobs.list("m")


def test_a_firing_alert_queues_one_job_through_the_guards(make_daemon) -> None:
    daemon, url = make_daemon()
    reply = post(url, notification(alert()))
    assert reply.status_code == 202, reply.text
    body = reply.json()
    assert body["received"] == 1 and body["alerts"][0]["outcome"] == "accepted"
    action = body["alerts"][0]["actions"][0]
    assert action["rule"] == "drift-alert" and action["pipeline"] == "retrain" and action["queued"]
    [job] = jobs(daemon)
    assert job.id == action["job"] and job.rule == "drift-alert"
    assert job.trigger["source"] == "alert" and job.trigger["alert"]["alertname"] == "ModelFeatureDrift"
    assert job.trigger["condition_since"] == pytest.approx(1795896000.0)  # the alert's startsAt
    assert job.trigger["drifted_features"] == []  # no check has measured drift yet
    kinds = [d.kind for d in daemon.store.decisions.list("m", limit=20)]
    assert {"alert", "guard", "action"} <= set(kinds)
    stored = requests.get(url + "/api/v1/alerts").json()
    assert stored[0]["status"] == "firing" and stored[0]["state"] == "done"


def test_retries_and_concurrent_duplicates_start_exactly_one_job(make_daemon) -> None:
    daemon, url = make_daemon()
    body = notification(alert())
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: post(url, body), range(8)))
    assert {r.status_code for r in replies} == {202}
    outcomes = sorted(r.json()["alerts"][0]["outcome"] for r in replies)
    assert outcomes == ["accepted"] + ["duplicate"] * 7
    for _ in range(3):  # Alertmanager's later retries, after the job already ran
        assert post(url, body).json()["alerts"][0]["outcome"] == "duplicate"
    assert len(jobs(daemon)) == 1
    exposition = requests.get(url + "/metrics").text
    assert 'modelhealth_alerts_received_total{kind="alertmanager",outcome="accepted"} 1.0' in exposition
    assert 'modelhealth_alerts_received_total{kind="alertmanager",outcome="duplicate"} 10.0' in exposition


def test_out_of_order_notices_never_start_a_second_job(make_daemon) -> None:
    daemon, url = make_daemon()
    first = alert(starts_at="2026-11-28T20:00:00Z")
    # Episode 1: resolved arrives before its firing notice (a delayed retry): nothing starts.
    resolved_first = notification(dict(first, status="resolved", endsAt="2026-11-28T20:05:00Z"))
    assert post(url, resolved_first).json()["alerts"][0]["outcome"] == "resolved"
    assert post(url, notification(first)).json()["alerts"][0]["outcome"] == "duplicate"
    assert jobs(daemon) == []
    # Episode 2 fires, then its resolved notice, then a late retry of its firing notice.
    second = alert(starts_at="2026-11-28T21:00:00Z")
    assert post(url, notification(second)).json()["alerts"][0]["outcome"] == "accepted"
    assert (
        post(url, notification(dict(second, status="resolved"))).json()["alerts"][0]["outcome"] == "duplicate"
    )
    assert post(url, notification(second)).json()["alerts"][0]["outcome"] == "duplicate"
    assert len(jobs(daemon)) == 1
    episodes = {a["starts_at"]: a["status"] for a in requests.get(url + "/api/v1/alerts").json()}
    assert episodes == {"2026-11-28T20:00:00Z": "resolved", "2026-11-28T21:00:00Z": "resolved"}


def test_a_new_episode_while_the_job_runs_is_refused_by_the_guards(make_daemon) -> None:
    daemon, url = make_daemon()
    assert post(url, notification(alert(starts_at="2026-11-28T20:00:00Z"))).status_code == 202
    reply = post(url, notification(alert(starts_at="2026-11-28T20:30:00Z"))).json()["alerts"][0]
    assert reply["outcome"] == "accepted" and not reply["actions"][0]["queued"]
    assert "already running for m" in reply["actions"][0]["reason"]
    assert len(jobs(daemon)) == 1


def test_auth_bad_bodies_and_oversized_bodies_are_refused_before_anything_is_stored(make_daemon) -> None:
    daemon, url = make_daemon()
    body = notification(alert())
    assert post(url, body, headers={}).status_code == 401
    assert post(url, body, headers=auth("wrong")).status_code == 403
    assert post(url, b"{not json").status_code == 400
    missing = dict(body)
    del missing["groupKey"]
    reply = post(url, missing)
    assert reply.status_code == 422 and "groupKey: required field is missing" in reply.text
    bad_time = notification(alert(starts_at="yesterday"))
    reply = post(url, bad_time)
    assert reply.status_code == 422 and "alerts[0].startsAt" in reply.text and "RFC 3339" in reply.text
    reply = post(url, dict(body, version="3"))
    assert reply.status_code == 422 and "expected '4'" in reply.text
    huge = notification(*[alert(model=f"m{i}") for i in range(100)])
    assert post(url, huge).status_code == 413
    assert requests.get(url + "/api/v1/alerts").json() == [] and jobs(daemon) == []
    exposition = requests.get(url + "/metrics").text
    # 401, 403, 400 and three 422s; the 413 is answered by the body cap before any route runs.
    assert 'modelhealth_alerts_received_total{kind="alertmanager",outcome="rejected"} 6.0' in exposition


def test_alerts_no_rule_takes_are_recorded_and_acknowledged(make_daemon) -> None:
    daemon, url = make_daemon()
    body = notification(alert(alertname="DiskFull"), alert(model="unknown-model"))
    reply = post(url, body)
    assert reply.status_code == 202
    assert [a["outcome"] for a in reply.json()["alerts"]] == ["unmatched", "unmatched"]
    messages = [d.message for d in daemon.store.decisions.list(kind="alert")]
    assert any("DiskFull" in m and "matched no" in m for m in messages)
    assert jobs(daemon) == []


def test_a_transient_store_failure_answers_503_and_the_retry_acts_once(make_daemon) -> None:
    daemon, url = make_daemon()
    db = daemon.config.state.removeprefix("sqlite:///")
    blocker = sqlite3.connect(db, isolation_level=None, timeout=1)
    blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the database past the busy timeout
    released = threading.Timer(30, blocker.rollback)
    released.start()
    try:
        reply = post(url, notification(alert()))
    finally:
        released.cancel()
        blocker.rollback()
        blocker.close()
    assert reply.status_code == 503 and reply.headers["retry-after"] == "10"
    assert "database is locked" in reply.json()["detail"]
    retry = post(url, notification(alert()))
    assert retry.status_code == 202 and retry.json()["alerts"][0]["outcome"] == "accepted"
    assert len(jobs(daemon)) == 1


def test_grafana_needs_a_valid_fresh_signature_when_a_secret_is_set(make_daemon) -> None:
    hooks = {"grafana": {"hmac_secret": SECRET, "timestamp_header": "X-Grafana-Alerting-Timestamp"}}
    daemon, url = make_daemon(hooks=hooks)
    check = SignatureCheck(SECRET, timestamp_header="X-Grafana-Alerting-Timestamp")
    body = json.dumps(notification(alert(), source="grafana")).encode()
    now = int(time.time())
    missing = post(url, body, source="grafana")
    assert missing.status_code == 401 and "X-Grafana-Alerting-Signature" in missing.text
    forged = {
        **auth(),
        **SignatureCheck("other-secret", timestamp_header=check.timestamp_header).sign(body, now),
    }
    assert post(url, body, headers=forged, source="grafana").status_code == 401
    tampered = {**auth(), **check.sign(body, now)}
    assert post(url, body.replace(b'"m"', b'"n"'), headers=tampered, source="grafana").status_code == 401
    stale = {**auth(), **check.sign(body, now - 3600)}
    reply = post(url, body, headers=stale, source="grafana")
    assert reply.status_code == 401 and "replays" in reply.text
    no_bearer = check.sign(body, now)
    assert post(url, body, headers=no_bearer, source="grafana").status_code == 401
    # Signed as Grafana's HMAC round tripper does: hex HMAC-SHA256 over "<unix seconds>:<body>".
    digest = hmac.new(SECRET.encode(), f"{now}:".encode() + body, hashlib.sha256).hexdigest()
    signed = {**auth(), "X-Grafana-Alerting-Signature": digest, "X-Grafana-Alerting-Timestamp": str(now)}
    assert signed == {**auth(), **check.sign(body, now)}
    reply = post(url, body, headers=signed, source="grafana")
    assert reply.status_code == 202, reply.text
    assert reply.json()["alerts"][0]["outcome"] == "accepted"
    # The same signed request replayed inside the window is only a duplicate.
    assert post(url, body, headers=signed, source="grafana").json()["alerts"][0]["outcome"] == "duplicate"
    assert len(jobs(daemon)) == 1
    am = post(url, notification(alert(), source="alertmanager"))
    assert am.status_code == 202  # no signature on Alertmanager's hook; its episode key differs by source


def test_grafana_without_a_secret_takes_bearer_auth_only(make_daemon) -> None:
    daemon, url = make_daemon(hooks={"token": "separate-hook-token"})
    body = notification(alert(), source="grafana")
    assert post(url, body, headers=auth(TOKEN), source="grafana").status_code == 403
    reply = post(url, body, headers=auth("separate-hook-token"), source="grafana")
    assert reply.status_code == 202 and reply.json()["alerts"][0]["outcome"] == "accepted"
    assert (
        post(url, dict(body, version="4"), headers=auth("separate-hook-token"), source="grafana").status_code
        == 422
    )


def test_dry_run_records_what_the_alert_would_have_run(make_daemon) -> None:
    daemon, url = make_daemon(dry_run=True)
    reply = post(url, notification(alert())).json()["alerts"][0]
    assert reply["outcome"] == "accepted"
    assert reply["actions"][0] | {"queued": False, "dry_run": True, "would_run": True} == reply["actions"][0]
    assert jobs(daemon) == []
    [guard] = daemon.store.decisions.list("m", kind="guard")
    assert guard.message.startswith("dry run: would have run retrain for m (rule drift-alert)")
    assert guard.data["would_run"] is True


def test_an_episode_left_queued_is_acted_on_by_the_daemon_tick(make_daemon) -> None:
    daemon, url = make_daemon()
    payload = notification(alert())
    a = payload["alerts"][0]
    daemon.intake.log.receive(
        "alertmanager", payload["groupKey"], a["fingerprint"], a["startsAt"], "firing", a, time.time() - 60
    )  # stored by a delivery whose request died before acting
    wait_until(lambda: jobs(daemon), 15, "the tick to act on the queued alert")
    assert post(url, payload).json()["alerts"][0]["outcome"] == "duplicate"
    assert len(jobs(daemon)) == 1


def test_grafana_signature_over_the_body_alone_when_no_timestamp_header_is_configured(make_daemon) -> None:
    daemon, url = make_daemon(hooks={"grafana": {"hmac_secret": SECRET}})
    body = json.dumps(notification(alert(), source="grafana")).encode()
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    with_ts = hmac.new(SECRET.encode(), b"1:" + body, hashlib.sha256).hexdigest()
    assert (
        post(
            url, body, headers={**auth(), "X-Grafana-Alerting-Signature": with_ts}, source="grafana"
        ).status_code
        == 401
    )
    reply = post(
        url, body, headers={**auth(), "X-Grafana-Alerting-Signature": digest.upper()}, source="grafana"
    )
    assert reply.status_code == 202 and reply.json()["alerts"][0]["outcome"] == "accepted"
