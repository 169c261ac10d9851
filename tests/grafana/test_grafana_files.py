"""grafana/: the committed dashboards are what build.py makes, their structure is what Grafana
loads, and every metric any query names is one the daemon exports.

No Grafana server can run here; every query also runs against a real Prometheus scraping a
running daemon in tests/e2e/test_alerting_stack.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from monitor.exporter import DaemonMetrics
from monitor.measurements import FeatureScore, Measurements
from rules.vocabulary import NAMES
from tests.support.queries import (
    DASHBOARDS,
    dashboard_queries,
    grafana_alert_queries,
    label_values_query,
    prometheus_alert_rules,
)

ROOT = Path(__file__).resolve().parents[2]
PROVISIONING = ROOT / "grafana" / "provisioning"
METRIC = re.compile(r"\b(modelhealth_[a-z0-9_]+)")


def test_committed_dashboards_are_what_build_py_makes() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "grafana" / "build.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_the_check_notices_a_stale_dashboard(tmp_path) -> None:
    copy = tmp_path / "grafana"
    (copy / "dashboards").mkdir(parents=True)
    for source in (ROOT / "grafana").glob("*.py"):
        (copy / source.name).write_text(source.read_text())
    for path in DASHBOARDS.glob("*.json"):
        (copy / "dashboards" / path.name).write_text(path.read_text())
    stale = copy / "dashboards" / "jobs.json"
    stale.write_text(stale.read_text().replace("Gate verdicts", "Gate verdict"))
    result = subprocess.run(
        [sys.executable, str(copy / "build.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 1 and "jobs.json" in result.stderr


def test_dashboards_have_what_grafana_needs() -> None:
    datasource = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yaml").read_text())[
        "datasources"
    ][0]
    boards = {p.name: json.loads(p.read_text()) for p in DASHBOARDS.glob("*.json")}
    assert set(boards) == {"fleet.json", "model.json", "jobs.json"}
    assert len({b["uid"] for b in boards.values()}) == 3
    for name, board in boards.items():
        assert board["schemaVersion"] >= 36 and board["title"].startswith("modelhealthd / "), name
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in board["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, (name, panel["title"])
            for target in panel.get("targets", []):
                assert target["datasource"]["uid"] == datasource["uid"], (name, panel["title"])
    model = boards["model.json"]
    [variable] = model["templating"]["list"]
    assert variable["name"] == "model" and label_values_query(variable["query"]["query"])
    assert {a["name"] for a in model["annotations"]["list"]} == {"promotions", "rollbacks"}
    titles = " ".join(p["title"] for p in model["panels"]).lower()
    for wanted in ("drift per feature", "prediction drift", "latency quantiles", "error ratio", "cost per 1k",
                   "accuracy: real and estimated", "data quality", "production version"):  # fmt: skip
        assert wanted in titles, wanted
    jobs = " ".join(p["title"] for p in boards["jobs.json"]["panels"]).lower()
    assert "outcome" in jobs and "duration" in jobs and "gate verdicts" in jobs


def exported_names() -> set[str]:
    """Every metric name the daemon's /metrics can show, with histogram and counter suffixes."""
    metrics = DaemonMetrics()
    metrics.known_model("m", 60.0)
    values = dict.fromkeys(NAMES, 1.0)
    metrics.record_measurements(
        Measurements("m", "1", 0.0, values, features=(FeatureScore("a", "ks", 0.5, 0.1, True),))
    )
    metrics.set_rule_states("m", {"r": "firing"})
    metrics.check_duration.labels("m").observe(0.1)
    metrics.job_finished("m", "retrain", "succeeded", 10.0, True)
    metrics.last_promotion.labels("m", "promote").set(1.0)
    metrics.last_success.labels("m").set(1.0)
    metrics.source_up.labels("m", "scrape").set(1)
    metrics.decisions.labels("transition").inc()
    names = set()
    for family in text_string_to_metric_families(metrics.render().decode()):
        names.update(sample.name for sample in family.samples)
    return names


def test_every_metric_a_query_names_is_exported_by_the_daemon() -> None:
    exported = exported_names()
    queries = dashboard_queries() + grafana_alert_queries() + prometheus_alert_rules()
    assert len(queries) > 60
    for query in queries:
        for name in METRIC.findall(query.expr):
            assert name in exported, f"{query.source}: {name} is not a metric the daemon exports"


def test_provisioning_files_fit_together() -> None:
    datasource = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yaml").read_text())
    assert datasource["apiVersion"] == 1 and datasource["datasources"][0]["type"] == "prometheus"
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "modelhealthd.yaml").read_text())["providers"][0]
    assert provider["type"] == "file" and provider["options"]["path"]
    rules = yaml.safe_load((PROVISIONING / "alerting" / "rules.yaml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            refs = {d["refId"] for d in rule["data"]}
            assert rule["condition"] in refs, rule["title"]
            for d in rule["data"]:
                assert d["datasourceUid"] in ("__expr__", datasource["datasources"][0]["uid"]), rule["title"]
    policies = yaml.safe_load((PROVISIONING / "alerting" / "policies.yaml").read_text())["policies"][0]
    contact = yaml.safe_load((PROVISIONING / "alerting" / "contact-points.yaml").read_text())[
        "contactPoints"
    ][0]
    [route] = policies["routes"]
    assert route["receiver"] == contact["name"] and ["action", "=", "reoptimize"] in route["object_matchers"]


def test_grafana_variables_are_escaped_from_provisioning_interpolation() -> None:
    """Provisioning replaces $NAME from the environment, so Grafana's own $A and $labels need $$."""
    text = (PROVISIONING / "alerting" / "rules.yaml").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert re.findall(r"(?<!\$)\$(?!\$)[A-Za-z{]", body.replace("$$", "")) == []
    assert "$$A" in body and "$$labels" in body
    documented = (ROOT / "grafana" / "README.md").read_text()
    for path in PROVISIONING.rglob("*.yaml"):
        for name in re.findall(r"\$\{(\w+)\}", path.read_text()):
            assert name in documented, f"{path.name}: ${{{name}}} is not documented in grafana/README.md"
