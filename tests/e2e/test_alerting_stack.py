"""The alerting loop on real servers, and every shipped PromQL query against real data.

One stack for the module: the reference model server and the daemon as processes
(``modelhealthd serve`` / ``modelhealthd run``), a real Prometheus running
``deploy/prometheus/prometheus.yml`` (ports and paths rewritten, intervals 1 s) and a real
Alertmanager running ``deploy/alertmanager/alertmanager.yml`` (the hook's URL and token file
rewritten). Traffic and delayed labels flow while the test:

* lets a Prometheus alert labelled action=reoptimize travel through Alertmanager to
  ``/hooks/alertmanager``, where ``rules/alert_rules.yaml`` turns it into a retrain job that
  ends in a gate verdict; Alertmanager keeps re-sending the firing alert, and still only one
  job starts for it;
* fails a job on a second model (no recipe), which opens its circuit breaker, and promotes and
  rolls back the first model, so that series which exist only after those events exist.

Then every query of the Grafana dashboards and alert rules, and every series the Prometheus
alert rules read, must return data from Prometheus over the test's time range.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import yaml

from monitor.demo.stack import Process, cli, free_port, wait_http
from reoptimize.job.first_versions import register_version
from reoptimize.registry.backends import open_registry
from tests.support.onnx_models import linear_classifier
from tests.support.prometheus_process import AlertmanagerServer, PrometheusServer
from tests.support.queries import (
    dashboard_queries,
    grafana_alert_queries,
    label_values_query,
    operands,
    prometheus_alert_rules,
    substitute,
)
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.prometheus]

ROOT = Path(__file__).resolve().parents[2]
FEATURES = ("a", "b", "c", "d")
TOKEN = "e2e-api-token"
METRIC_RULES = """\
rules:
  - name: has-traffic
    when: rows >= 40
    actions: [{pipeline: notify}]
"""
# The test's own Prometheus alert, with the name and labels of deploy's ModelFeatureDrift but a
# condition that holds as soon as traffic flows (deploy's needs 5 minutes of real drift).
E2E_ALERTS = {
    "groups": [
        {
            "name": "e2e",
            "rules": [
                {
                    "alert": "ModelFeatureDrift",
                    "expr": 'modelhealth_rows{model="m"} >= 40',
                    "labels": {"severity": "warning", "action": "reoptimize"},
                    "annotations": {"summary": "e2e: {{ $labels.model }} has traffic"},
                }
            ],
        }
    ]
}


@dataclass
class Stack:
    api: str
    prom: PrometheusServer
    alertmanager: AlertmanagerServer
    started: float
    alert_job: dict
    events: dict


def _frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=list(FEATURES))
    frame["label"] = ((frame["a"] + 0.3 * frame["b"]) > 0).astype(int)
    return frame


def _register(registry: Path, model: str) -> str:
    weights = np.array([[-3.0, 3.0], [-1.0, 1.0], [0, 0], [0, 0]])
    return register_version(
        open_registry(registry), model, linear_classifier(weights), _frame(400, 1), FEATURES, "label",
        task="classification",
    ).version  # fmt: skip


def _daemon_config(d: Path, api_port: int, server_url: str) -> Path:
    (d / "metrics-rules.yaml").write_text(METRIC_RULES)
    config = {
        "state": f"sqlite:///{d}/state/state.db",
        "registry": str(d / "state" / "registry"),
        "reports": str(d / "state" / "reports"),
        "api": {"listen": f"127.0.0.1:{api_port}", "token_file": str(d / "api-token")},
        "rules": [str(ROOT / "rules" / "alert_rules.yaml"), str(d / "metrics-rules.yaml")],
        "jobs": {"concurrency": 2, "timeout": "5m"},
        "guards": {"breaker_threshold": 1},
        "models": [
            {
                "name": "m",
                "server": {"url": server_url, "token_file": str(d / "server-token")},
                "data": {"predictions": str(d / "predictions" / "m"), "label_column": "label"},
                "features": list(FEATURES),
                "recipe": {
                    "factory": "reoptimize.recipes.mlp:mlp",
                    "params": {"hidden": [16]},
                    "training": {"max_epochs": 5, "patience": 2},
                },
                "check": {"every": "2s", "window": "2m", "min_rows": 40},
                "cost": {"cpu_price_per_hour": 0.05, "memory_price_per_gb_hour": 0.005},
            },
            {  # served by nobody: its source is down, and its jobs fail (no recipe)
                "name": "broken",
                "server": {"url": server_url},
                "data": {"predictions": str(d / "predictions" / "broken"), "label_column": "label"},
                "check": {"every": "2s"},
            },
        ],
    }
    path = d / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _prometheus_config(d: Path, daemon: str, server: str, alertmanager: str) -> dict:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"}
    (d / "e2e-alerts.yml").write_text(yaml.safe_dump(E2E_ALERTS))
    config["rule_files"] = [str(ROOT / "deploy" / "prometheus" / f) for f in config["rule_files"]]
    config["rule_files"].append(str(d / "e2e-alerts.yml"))
    config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [alertmanager]
    (d / "model-servers.yml").write_text(yaml.safe_dump([{"targets": [server]}]))
    for job in config["scrape_configs"]:
        if job["job_name"] == "modelhealthd":
            job["static_configs"][0]["targets"] = [daemon]
        else:
            job["file_sd_configs"][0] = {"files": [str(d / "model-servers.yml")], "refresh_interval": "1s"}
    return config


def _alertmanager_config(d: Path, hook: str) -> dict:
    config = yaml.safe_load((ROOT / "deploy" / "alertmanager" / "alertmanager.yml").read_text())
    route = config["route"]["routes"][0]
    route |= {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "2s"}  # re-send often
    [webhook] = next(r for r in config["receivers"] if r["name"] == "modelhealthd")["webhook_configs"]
    webhook["url"] = hook
    webhook["http_config"]["authorization"]["credentials_file"] = str(d / "api-token")
    return config


def _traffic(server: str, api: str, stop: threading.Event) -> None:
    """10 rows every 0.2 s, each labelled through the daemon's API a moment later."""
    session, frame, i = requests.Session(), _frame(100_000, 7), 0
    while not stop.is_set():
        batch = frame.iloc[i : i + 10]
        ids = [f"r{i + k}" for k in range(len(batch))]
        body = {"rows": batch[list(FEATURES)].to_dict("records"), "ids": ids}
        try:
            session.post(server + "/predict", json=body, timeout=5)
            labels = [{"request_id": r, "label": int(y)} for r, y in zip(ids, batch["label"], strict=True)]
            session.post(
                api + "/api/v1/labels",
                json={"model": "m", "labels": labels},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=5,
            )
        except requests.RequestException:
            pass
        i += 10
        stop.wait(0.2)


def _wait(predicate, timeout: float, what: str, poll: float = 0.5):  # noqa: ANN001, ANN202
    return wait_until(predicate, timeout, what, poll=poll, not_yet=(requests.RequestException,))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    d = tmp_path_factory.mktemp("alerting")
    (d / "api-token").write_text(TOKEN)
    (d / "server-token").write_text("e2e-server-token")
    for model in ("m", "broken"):
        _register(d / "state" / "registry", model)
    api_port, server_port = free_port(), free_port()
    api, server_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{server_port}"
    config = _daemon_config(d, api_port, server_url)
    session, stop = requests.Session(), threading.Event()
    server = Process(
        "model server",
        cli("serve", "--registry", str(d / "state" / "registry"), "--model", "m", "--port", str(server_port),
            "--predictions", str(d / "predictions" / "m"), "--token-file", str(d / "server-token")),
        d / "server.log",
    )  # fmt: skip
    daemon = Process("daemon", cli("run", "--config", str(config), "--log-format", "json"), d / "daemon.log")
    started = time.time()
    alertmanager = prom = None
    traffic = threading.Thread(target=_traffic, args=(server_url, api, stop), daemon=True)
    try:
        server.start()
        wait_http(server_url + "/readyz", server, 60, session)
        daemon.start()
        wait_http(api + "/readyz", daemon, 60, session)
        alertmanager = AlertmanagerServer(d, _alertmanager_config(d, api + "/hooks/alertmanager")).start()
        prom = PrometheusServer(
            d, _prometheus_config(d, f"127.0.0.1:{api_port}", f"127.0.0.1:{server_port}", f"127.0.0.1:{alertmanager.port}")
        ).start()  # fmt: skip
        traffic.start()
        events = _drive(api, session, d / "state" / "registry")
        alert_job = events["alert_job"]
        last = time.time()
        _wait(
            lambda: prom.query(f'timestamp(up{{job="modelhealthd"}}) > {last + 2}'),
            30,
            "a scrape after the events",
        )
        yield Stack(api, prom, alertmanager, started, alert_job, events)
    finally:
        stop.set()
        for process in (prom, alertmanager):
            if process is not None:
                process.stop()
        daemon.stop()
        server.stop()
        traffic.join(10)


def _drive(api: str, session: requests.Session, registry: Path) -> dict:
    """Wait for the alert's job and its verdict; fail a job of `broken`; promote and roll back `m`."""
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def alert_jobs() -> list[dict]:
        jobs = session.get(api + "/api/v1/jobs", params={"model": "m"}, timeout=5).json()
        return [j for j in jobs if (j["trigger"] or {}).get("alert")]

    [job] = _wait(alert_jobs, 120, "a job started by the Alertmanager webhook")
    job = _wait(
        lambda: (
            (j := session.get(f"{api}/api/v1/jobs/{job['id']}", timeout=5).json())["state"]
            not in ("queued", "running")
            and j
        ),
        240,
        "the alert's job to finish",
    )

    def ended() -> bool:
        entries = session.get(api + "/api/v1/decisions", params={"job": job["id"]}, timeout=5).json()
        return any(x["kind"] in ("verdict", "job") and "started" not in x["message"] for x in entries)

    _wait(ended, 30, "the daemon to record how the job ended")
    failed = session.post(api + "/api/v1/models/broken/trigger", json={"pipeline": "retrain"}, headers=auth)
    assert failed.status_code == 202 and failed.json()["queued"], failed.text
    _wait(
        lambda: session.get(api + "/api/v1/models/broken/breaker", timeout=5).json()["open"],
        120,
        "broken's breaker to open after its failed job",
    )
    promotions = session.get(api + "/api/v1/promotions", params={"model": "m"}, timeout=5).json()
    if not any(p["kind"] == "promote" for p in promotions):  # the gate kept nothing: a version by hand
        version = _register(registry, "m")
        reply = session.post(
            api + "/api/v1/models/m/promote", json={"version": version}, headers=auth, timeout=60
        )
        assert reply.status_code == 200, reply.text
    rollback = session.post(api + "/api/v1/models/m/rollback", json={}, headers=auth, timeout=60)
    assert rollback.status_code == 200 and rollback.json()["rolled_back"], rollback.text
    return {
        "alert_job": job,
        "promotions": session.get(api + "/api/v1/promotions", params={"model": "m"}).json(),
    }


def test_a_prometheus_alert_through_alertmanager_starts_one_job_that_ends_in_a_gate_verdict(stack) -> None:
    job = stack.alert_job
    assert job["rule"] == "alert-feature-drift" and job["pipeline"] == "retrain"
    assert job["trigger"]["alert"]["source"] == "alertmanager"
    assert job["trigger"]["alert"]["alertname"] == "ModelFeatureDrift"
    assert job["state"] == "succeeded", job["error"]
    assert isinstance(job["trigger"]["drifted_features"], list)  # for a retrain's `augment: auto`
    verdict = job["result"]["verdict"]
    assert isinstance(verdict["passed"], bool) and verdict["text"]
    messages = [
        d["message"]
        for d in requests.get(stack.api + "/api/v1/decisions", params={"model": "m", "limit": 500}).json()
    ]
    assert any("alert ModelFeatureDrift for m taken by rule alert-feature-drift" in m for m in messages)
    assert any(m.startswith(f"m: job {job['id']} succeeded") for m in messages)
    # Alertmanager re-sent the firing alert every few seconds: one episode, one job.
    episodes = requests.get(stack.api + "/api/v1/alerts", params={"source": "alertmanager"}).json()
    assert len({(e["group_key"], e["fingerprint"], e["starts_at"]) for e in episodes}) == len(episodes) == 1
    resent = stack.prom.query('modelhealth_alerts_received_total{kind="alertmanager",outcome="duplicate"}')
    assert float(resent[0]["value"][1]) >= 1
    jobs = requests.get(stack.api + "/api/v1/jobs", params={"model": "m"}).json()
    assert [j["id"] for j in jobs if (j["trigger"] or {}).get("alert")] == [job["id"]]
    kinds = [p["kind"] for p in stack.events["promotions"]]
    assert "promote" in kinds and "rollback" in kinds


def _no_data(queries, stack: Stack) -> list[str]:
    end = time.time()
    missing = []
    for q in queries:
        expr = substitute(q.expr, "m")
        if (lv := label_values_query(expr)) is not None:
            if "m" not in stack.prom.label_values(lv[1], lv[0]):
                missing.append(f"{q.source}: {expr}")
            continue
        if not stack.prom.query_range(expr, stack.started, end, step=1):
            missing.append(f"{q.source}: {expr}")
    return missing


def test_every_dashboard_query_returns_data(stack) -> None:
    queries = dashboard_queries()
    assert len(queries) > 50
    assert _no_data(queries, stack) == []


def test_every_grafana_alert_query_returns_data(stack) -> None:
    queries = grafana_alert_queries()
    assert len(queries) == 7
    assert _no_data(queries, stack) == []


def test_every_prometheus_alert_rule_is_healthy_and_reads_series_that_exist(stack) -> None:
    health = {name: (h, err) for name, h, err in stack.prom.rule_health()}
    rules = prometheus_alert_rules()
    for q in rules:
        assert health[q.source.split(": ")[1]][0] == "ok", (q.source, health[q.source.split(": ")[1]])
    parts = [
        type(q)(f"{q.source} operand {i}", part) for q in rules for i, part in enumerate(operands(q.expr))
    ]
    assert len(parts) >= len(rules)
    assert _no_data(parts, stack) == []


def test_the_daemon_health_alerts_the_test_provoked_fire(stack) -> None:
    """The broken model's source is down, its job failed and its breaker opened."""
    wanted = {"ModelhealthdSourceDown", "ModelhealthdJobFailures", "ModelhealthdCircuitBreakerOpen"}
    rules = {q.source.split(": ")[1]: q.expr for q in prometheus_alert_rules()}
    for name in sorted(wanted):
        series = stack.prom.query_range(rules[name], stack.started, time.time())
        assert any(s["metric"].get("model") == "broken" for s in series), name
