"""deploy/prometheus and deploy/alertmanager checked by the real tools: promtool and amtool.

``promtool check config|rules`` lint the files, ``promtool test rules`` runs the unit tests
shipped beside the rules, and ``amtool config routes test`` shows where an alert is delivered.
The queries themselves run against a live Prometheus in tests/e2e/test_alerting_stack.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from monitor.config import GrafanaHookConfig
from rules.engine import RuleEngine
from rules.loader import load_rules
from tests.support.binaries import require

pytestmark = pytest.mark.prometheus

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"


def run(binary: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([require(binary), *args], capture_output=True, text=True, timeout=120)


def test_promtool_checks_the_config_and_every_rule_file() -> None:
    config = run("promtool", "check", "config", str(PROM / "prometheus.yml"))
    assert config.returncode == 0, config.stdout + config.stderr
    assert "2 rule files found" in config.stdout
    rules = run("promtool", "check", "rules", *map(str, sorted((PROM / "rules").glob("*.yml"))))
    assert rules.returncode == 0, rules.stdout + rules.stderr


def test_promtool_unit_tests_pass() -> None:
    tests = sorted((PROM / "tests").glob("*_test.yml"))
    assert len(tests) == 2
    result = run("promtool", "test", "rules", *map(str, tests))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == 2


def test_promtool_fails_a_unit_test_whose_expectation_is_wrong(tmp_path) -> None:
    """The unit tests can fail: the same test file with one expectation flipped does."""
    text = (PROM / "tests" / "modelhealthd_test.yml").read_text()
    broken = text.replace("      - eval_time: 14m   # 240s", "      - eval_time: 16m   # 240s", 1)
    assert broken != text
    (tmp_path / "rules").mkdir()
    shutil.copy(PROM / "rules" / "modelhealthd.yml", tmp_path / "rules")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "broken_test.yml").write_text(broken)
    result = run("promtool", "test", "rules", str(tmp_path / "tests" / "broken_test.yml"))
    assert result.returncode != 0 and "ModelhealthdCheckStale" in result.stdout + result.stderr


def test_the_daemon_health_alerts_cover_what_the_issue_asks() -> None:
    names = {
        r["alert"]
        for g in yaml.safe_load((PROM / "rules" / "modelhealthd.yml").read_text())["groups"]
        for r in g["rules"]
    }
    assert {
        "ModelhealthdCheckStale",
        "ModelhealthdSourceDown",
        "ModelhealthdJobFailures",
        "ModelhealthdCircuitBreakerOpen",
    } <= names
    for group in yaml.safe_load((PROM / "rules" / "modelhealthd.yml").read_text())["groups"]:
        for rule in group["rules"]:
            assert "action" not in rule["labels"], f"{rule['alert']} is for people; it must not start jobs"


def test_alertmanager_routes_reoptimize_alerts_to_the_daemon_hook_and_everything_to_people() -> None:
    check = run("amtool", "check-config", str(ALERTMANAGER))
    assert check.returncode == 0, check.stdout + check.stderr

    def receivers(*labels: str) -> str:
        out = run("amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER}", *labels)
        return out.stdout.strip()

    assert (
        receivers("alertname=ModelFeatureDrift", "model=m", "action=reoptimize") == "modelhealthd,operators"
    )
    assert receivers("alertname=ModelhealthdCircuitBreakerOpen", "model=m") == "operators"
    config = yaml.safe_load(ALERTMANAGER.read_text())
    [hook] = next(r for r in config["receivers"] if r["name"] == "modelhealthd")["webhook_configs"]
    assert hook["url"].endswith("/hooks/alertmanager") and hook["send_resolved"] is True
    assert hook["http_config"]["authorization"]["type"] == "Bearer"
    assert "credentials_file" in hook["http_config"]["authorization"]


def test_every_alert_routed_to_the_daemon_is_taken_by_an_alert_rule() -> None:
    """An action=reoptimize alert no `source: alert` rule takes would be acknowledged and dropped."""
    engine = RuleEngine(load_rules(ROOT / "rules" / "alert_rules.yaml"))
    grafana = yaml.safe_load((ROOT / "grafana" / "provisioning" / "alerting" / "rules.yaml").read_text())
    routed = [
        {"alertname": r["alert"], **r["labels"]}
        for g in yaml.safe_load((PROM / "rules" / "models.yml").read_text())["groups"]
        for r in g["rules"]
        if r["labels"].get("action") == "reoptimize"
    ] + [
        {"alertname": r["title"], **r["labels"]}
        for g in grafana["groups"]
        for r in g["rules"]
        if r["labels"].get("action") == "reoptimize"
    ]
    assert len(routed) == 6
    for labels in routed:
        matches = engine.match_alert({**labels, "model": "digits"})
        assert [model for _, model in matches] == ["digits"], labels


def test_grafana_signs_with_the_header_the_daemon_reads() -> None:
    doc = yaml.safe_load((ROOT / "grafana" / "provisioning" / "alerting" / "contact-points.yaml").read_text())
    [receiver] = doc["contactPoints"][0]["receivers"]
    assert receiver["type"] == "webhook" and receiver["settings"]["url"] == "${MODELHEALTHD_HOOK_URL}"
    assert receiver["settings"]["hmacConfig"]["header"] == GrafanaHookConfig().signature_header
    assert receiver["settings"]["hmacConfig"]["timestampHeader"] == "X-Grafana-Alerting-Timestamp"
    assert receiver["settings"]["authorization_scheme"] == "Bearer"
