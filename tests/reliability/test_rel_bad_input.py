"""The bad-input matrix: configs, rules, API bodies, webhook payloads and prediction-log lines.

Against the real daemon (HTTP API on loopback, SQLite, file registry): every bad request gets a
4xx with a message that says what is wrong, and a digest of every table of the state store and
every file of the registry is the same after it as before. Bad configs and rule files are
refused by ``config validate``/``rules validate`` and by a live reload (the running config
stays). Bad prediction-log lines are counted and named by the next check, which still works.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import requests
import yaml
from typer.testing import CliRunner

from monitor.cli import app as cli_app
from monitor.daemon.reload import ReloadRefused
from tests.reliability.support_http import empty_server
from tests.reliability.support_state import state_digest
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

pytestmark = pytest.mark.reliability

SECRET = "grafana-hmac-secret"
MAX_BODY = 400_000


def _signed(body: bytes, at: int, secret: str = SECRET) -> dict[str, str]:
    signature = hmac.new(secret.encode(), f"{at}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Grafana-Alerting-Signature": signature, "X-Grafana-Alerting-Timestamp": str(at)}


def _json(value) -> bytes:  # noqa: ANN001
    return json.dumps(value).encode()


GOOD_ALERT = _json(notification(alert()))
HOOK = {"Content-Type": "application/json", **auth()}
# (name, method, path, body bytes or None, headers, allowed statuses, text the reply must contain)
API_CASES = [
    ("labels: not JSON", "POST", "/api/v1/labels", b"{model: m", HOOK, {422}, "JSON"),
    ("labels: a list", "POST", "/api/v1/labels", b"[]", HOOK, {422}, "object"),
    (
        "labels: unknown field",
        "POST",
        "/api/v1/labels",
        _json({"model": "m", "labels": [], "x": 1}),
        HOOK,
        {422},
        "x",
    ),
    (
        "labels: unknown model",
        "POST",
        "/api/v1/labels",
        _json({"model": "nope", "labels": []}),
        HOOK,
        {404},
        "nope",
    ),
    (
        "labels: model path",
        "POST",
        "/api/v1/labels",
        _json({"model": "../../etc", "labels": []}),
        HOOK,
        {404},
        "../../etc",
    ),
    (
        "labels: bad ts",
        "POST",
        "/api/v1/labels",
        _json({"model": "m", "labels": [{"request_id": "r", "label": 1, "ts": "yesterday"}]}),
        HOOK,
        {422},
        "labels[0].ts",
    ),
    (
        "labels: long id",
        "POST",
        "/api/v1/labels",
        _json({"model": "m", "labels": [{"request_id": "r" * 500, "label": 1}]}),
        HOOK,
        {422},
        "request_id",
    ),
    (
        "labels: object label",
        "POST",
        "/api/v1/labels",
        _json({"model": "m", "labels": [{"request_id": "r", "label": {"a": 1}}]}),
        HOOK,
        {422},
        "label",
    ),
    (
        "labels: oversized",
        "POST",
        "/api/v1/labels",
        b"{" + b" " * (MAX_BODY + 10) + b"}",
        HOOK,
        {413},
        "larger than",
    ),
    (
        "labels: no token",
        "POST",
        "/api/v1/labels",
        _json({"model": "m", "labels": []}),
        {"Content-Type": "application/json"},
        {401},
        "Bearer",
    ),
    (
        "labels: wrong token",
        "POST",
        "/api/v1/labels",
        _json({"model": "m", "labels": []}),
        {"Content-Type": "application/json", **auth("not-the-token")},
        {403},
        "wrong bearer token",
    ),
    (
        "labels: basic auth",
        "POST",
        "/api/v1/labels",
        _json({"model": "m", "labels": []}),
        {"Content-Type": "application/json", "Authorization": "Basic dXNlcjpwdw=="},
        {401},
        "Bearer",
    ),
    (
        "trigger: unknown pipeline",
        "POST",
        "/api/v1/models/m/trigger",
        _json({"pipeline": "rm -rf"}),
        HOOK,
        {422},
        "pipeline",
    ),
    (
        "trigger: with not a mapping",
        "POST",
        "/api/v1/models/m/trigger",
        _json({"pipeline": "retrain", "with": [1]}),
        HOOK,
        {422},
        "with",
    ),
    (
        "trigger: traversal",
        "POST",
        "/api/v1/models/..%2F..%2Fetc/trigger",
        _json({"pipeline": "retrain"}),
        HOOK,
        {404},
        "not found",
    ),
    ("check: unknown model", "POST", "/api/v1/models/nope/check", b"", HOOK, {404}, "nope"),
    (
        "promote: version path",
        "POST",
        "/api/v1/models/m/promote",
        _json({"version": "../1"}),
        HOOK,
        {409},
        "invalid version",
    ),
    (
        "promote: missing version",
        "POST",
        "/api/v1/models/m/promote",
        _json({"version": "999"}),
        HOOK,
        {409},
        "999",
    ),
    ("rollback: unknown model", "POST", "/api/v1/models/nope/rollback", b"", HOOK, {404}, "nope"),
    ("cancel: unknown job", "POST", "/api/v1/jobs/nope/cancel", b"", HOOK, {404}, "nope"),
    (
        "breaker: long reason",
        "POST",
        "/api/v1/models/m/breaker/reset",
        _json({"reason": "x" * 600}),
        HOOK,
        {422},
        "reason",
    ),
    (
        "read: version path",
        "GET",
        "/api/v1/models/m/versions/..%2F..%2Fproduction",
        None,
        {},
        {404},
        "not found",
    ),
    ("read: card format", "GET", "/api/v1/models/m/versions/1/card?format=pickle", None, {}, {422}, "format"),
    ("read: report path", "GET", "/reports/m/..%2F..%2Fstate.db", None, {}, {404}, "not found"),
    ("read: dotted report", "GET", "/reports/m/.state.db.html", None, {}, {404}, "no report"),
    ("read: negative limit", "GET", "/api/v1/checks?limit=-1", None, {}, {422}, "limit"),
    (
        "hook: no token",
        "POST",
        "/hooks/alertmanager",
        GOOD_ALERT,
        {"Content-Type": "application/json"},
        {401},
        "Bearer",
    ),
    (
        "hook: wrong token",
        "POST",
        "/hooks/alertmanager",
        GOOD_ALERT,
        {"Content-Type": "application/json", **auth("guess")},
        {403},
        "wrong bearer token",
    ),
    ("hook: not JSON", "POST", "/hooks/alertmanager", b"\x00\xff{", HOOK, {400}, "not JSON"),
    (
        "hook: wrong version",
        "POST",
        "/hooks/alertmanager",
        _json(notification(alert()) | {"version": "3"}),
        HOOK,
        {422},
        "version",
    ),
    (
        "hook: no alerts",
        "POST",
        "/hooks/alertmanager",
        _json({k: v for k, v in notification(alert()).items() if k != "alerts"}),
        HOOK,
        {422},
        "alerts",
    ),
    (
        "hook: bad startsAt",
        "POST",
        "/hooks/alertmanager",
        _json(notification(alert(starts_at="soon"))),
        HOOK,
        {422},
        "startsAt",
    ),
    (
        "hook: label not text",
        "POST",
        "/hooks/alertmanager",
        _json(notification(alert() | {"labels": {"alertname": "x", "model": 5}})),
        HOOK,
        {422},
        "labels",
    ),
    (
        "hook: too many alerts",
        "POST",
        "/hooks/alertmanager",
        _json(notification(*[alert()] * 1001)),
        HOOK,
        {422},
        "alerts",
    ),
    (
        "hook: oversized",
        "POST",
        "/hooks/alertmanager",
        b"[" + b"0," * MAX_BODY + b"0]",
        HOOK,
        {413},
        "larger than",
    ),
    ("hook: a JSON string", "POST", "/hooks/alertmanager", b'"firing"', HOOK, {422}, "JSON object"),
    (
        "grafana: unsigned",
        "POST",
        "/hooks/grafana",
        _json(notification(alert(), source="grafana")),
        HOOK,
        {401},
        "Signature",
    ),
]


def _grafana_cases() -> list[tuple]:
    body = _json(notification(alert(), source="grafana"))
    now = int(time.time())
    return [
        ("grafana: forged HMAC", "POST", "/hooks/grafana", body, {**HOOK, **_signed(body, now, "guessed")}, {401}, "does not match"),
        ("grafana: replayed an hour later", "POST", "/hooks/grafana", body, {**HOOK, **_signed(body, now - 3600)}, {401}, "replays"),
        ("grafana: signed another body", "POST", "/hooks/grafana", body + b" ", {**HOOK, **_signed(body, now)}, {401}, "does not match"),
        ("grafana: timestamp not a number", "POST", "/hooks/grafana", body,
         {**HOOK, **_signed(body, now), "X-Grafana-Alerting-Timestamp": "now"}, {401}, "Unix seconds"),
        ("grafana: valid signature, no token", "POST", "/hooks/grafana", body,
         {"Content-Type": "application/json", **_signed(body, now)}, {401}, "Bearer"),
    ]  # fmt: skip


BAD_CONFIGS = {
    "not YAML": ("models: [", "not valid YAML"),
    "unknown field": ("modles: []", "modles: unknown field"),
    "bad duration": ("models: [{name: m, server: {url: 'http://x'}, data: {predictions: p}, check: {every: soon}}]",
                     "models[0].check.every"),
    "NaN timeout": ("jobs: {timeout: .nan}", "jobs.timeout"),
    "traversal name": ("models: [{name: '../m', server: {url: 'http://x'}, data: {predictions: p}}]", "models[0].name"),
    "unset variable": ("api: {token: '${MODELHEALTHD_TEST_UNSET_VARIABLE}'}", "MODELHEALTHD_TEST_UNSET_VARIABLE"),
    "bad listen": ("api: {listen: 'everywhere'}", "api.listen"),
    "deeply nested": ("[" * 3000, "nested too deeply"),
}  # fmt: skip
BAD_RULES = {
    "unknown measurement": ("rules: [{name: a, when: 'drift_shar > 0.3'}]", "drift_shar"),
    "code in when": ("rules: [{name: a, when: '__import__(\"os\").system(\"x\")'}]", "not supported"),
    "unknown pipeline": ("rules: [{name: a, when: 'rows > 1', actions: [{pipeline: '../bin/sh'}]}]", "pipeline"),
    "NaN cooldown": ("rules: [{name: a, when: 'rows > 1', cooldown: .nan}]", "cooldown"),
    "not a list": ("rules: {a: 1}", "rules"),
}  # fmt: skip


@pytest.fixture
def daemon_setup(tmp_path):
    register_model(tmp_path / "registry")
    with empty_server() as server:
        config = write_config(
            tmp_path,
            server,
            hooks={"grafana": {"hmac_secret": SECRET, "timestamp_header": "X-Grafana-Alerting-Timestamp"}},
            api={"listen": f"127.0.0.1:{_port()}", "token": TOKEN, "max_body_bytes": MAX_BODY},
        )
        daemon, url = start_daemon(config)
        try:
            _wait_for_first_check(daemon)
            yield daemon, url, tmp_path, config
        finally:
            daemon.stop(grace=5)


def _port() -> int:
    from tests.support.alerting import free_port

    return free_port()


def _wait_for_first_check(daemon) -> None:  # noqa: ANN001
    wait_until(lambda: daemon.store.checks.latest("m"), 30, "the first check", poll=0.1)


def test_bad_requests_get_a_clear_4xx_and_change_nothing(daemon_setup, report) -> None:
    daemon, url, tmp_path, _ = daemon_setup
    digest = lambda: state_digest(daemon.config.state, daemon.config.registry.path)  # noqa: E731
    before = digest()
    cases = API_CASES + _grafana_cases()
    session = requests.Session()
    failures = []
    for name, method, path, body, headers, statuses, says in cases:
        reply = session.request(method, url + path, data=body, headers=headers, timeout=30)
        detail = reply.text
        if reply.status_code not in statuses or says.lower() not in detail.lower():
            failures.append(f"{name}: {reply.status_code} {detail[:200]}")
        if digest() != before:
            failures.append(f"{name}: the state changed")
            before = digest()
    assert requests.get(url + "/healthz", timeout=5).status_code == 200
    assert not failures, "\n".join(failures)
    report.record("bad input: API and webhooks", trials=len(cases), faults=len(cases), passes=len(cases))


def test_bad_configs_and_rules_are_refused_by_validate_and_by_reload(daemon_setup, report) -> None:
    daemon, _, tmp_path, config_path = daemon_setup
    runner = CliRunner()
    before = state_digest(daemon.config.state, daemon.config.registry.path)
    good_text, running = config_path.read_text(), daemon.config
    passes = 0
    for name, (text, says) in BAD_CONFIGS.items():
        bad = tmp_path / "bad-config.yaml"
        bad.write_text(text)
        result = runner.invoke(cli_app, ["config", "validate", str(bad)])
        assert result.exit_code == 2 and says in result.output, (name, result.output)
        config_path.write_text(text)
        with pytest.raises(ReloadRefused, match="not a valid config"):
            daemon.reload()
        assert daemon.config is running, name
        passes += 1
    for name, (text, says) in BAD_RULES.items():
        rules = tmp_path / "bad-rules.yaml"
        rules.write_text(text)
        result = runner.invoke(cli_app, ["rules", "validate", str(rules)])
        assert result.exit_code != 0 and says in result.output, (name, result.output)
        config = yaml.safe_load(good_text) | {"rules": [str(rules)]}
        config_path.write_text(yaml.safe_dump(config))
        with pytest.raises(ReloadRefused, match="rules do not load"):
            daemon.reload()
        assert daemon.config is running, name
        passes += 1
    config_path.write_text(good_text)
    assert state_digest(daemon.config.state, daemon.config.registry.path) == before
    n = len(BAD_CONFIGS) + len(BAD_RULES)
    report.record("bad input: configs and rules", trials=n, faults=n, passes=passes)


def test_bad_prediction_log_lines_are_counted_and_named(daemon_setup, report) -> None:
    daemon, _, tmp_path, _ = daemon_setup
    from serving.prediction_log_writer import format_ts, log_file_name

    folder = tmp_path / "predictions" / "m"
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()

    def line(i: int, **features) -> str:  # noqa: ANN003
        values = {"a": 0.1 * i, "b": -0.2, "c": 1.0} | features
        record = {"ts": format_ts(now - 100 + i * 0.1), "request_id": f"r{i}", "model": "m", "version": "1",
                  "features": values, "prediction": 1, "proba": [0.2, 0.8]}  # fmt: skip
        return json.dumps(record)

    good = [line(i) for i in range(150)]
    unparsable = [
        line(900)[:40],  # truncated
        "[1, 2, 3]",  # not a record
        "\x00\xff garbage",
        '{"ts": "yesterday", "request_id": "x", "features": {}}',  # a time that is not one
        json.dumps({"ts": format_ts(now - 50), "request_id": "y", "model": "m", "version": "1",
                    "features": "a=1", "prediction": 1}),  # features not an object
    ]  # fmt: skip
    odd = [
        line(901, a="seven"),  # wrong type
        line(902, z=3.0),  # unknown column
        json.dumps(json.loads(line(903)) | {"features": {"a": 1.0, "b": 2.0}}),  # a column missing
    ]
    (folder / log_file_name(now)).write_text("\n".join(good + unparsable + odd) + "\n")
    m = daemon.run_check("m")
    latest = daemon.store.checks.latest("m")
    assert latest.error is None, latest.error
    assert m.values["rows"] == len(good) + len(odd)
    assert m.values["bad_log_lines"] == len(unparsable), m.values
    assert m.values["schema_errors"] >= 3
    quality = json.dumps(latest.details["quality"])
    assert all(name in quality for name in ("a", "z", "c")), quality
    n = len(unparsable) + len(odd)
    report.record("bad input: prediction-log lines", trials=n, faults=n, passes=n)
