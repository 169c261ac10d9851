"""Every PromQL query the project ships: Grafana dashboards and alert rules, Prometheus alert rules.

A :class:`Query` names where it came from (file, panel or rule) so a failing check says which
query to fix. ``substitute`` fills Grafana's variables the way Grafana would for one model
and a short range; ``operands`` splits an alert expression at its top-level comparisons and
set operators, so each series a rule reads can be checked on its own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "grafana" / "dashboards"
GRAFANA_RULES = ROOT / "grafana" / "provisioning" / "alerting" / "rules.yaml"
PROMETHEUS_RULES = ROOT / "deploy" / "prometheus" / "rules"
LABEL_VALUES = re.compile(r"^label_values\((?P<metric>[^,]+),\s*(?P<label>\w+)\)$")


@dataclass(frozen=True)
class Query:
    source: str  # e.g. "model.json: Latency quantiles [B]"
    expr: str


def dashboard_queries() -> list[Query]:
    """Panel targets, annotation queries and query variables of every dashboard."""
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for t in panel.get("targets", []):
                out.append(Query(f"{path.name}: {panel['title']} [{t['refId']}]", t["expr"]))
        for a in board["annotations"]["list"]:
            out.append(Query(f"{path.name}: annotation {a['name']}", a["expr"]))
        for v in board["templating"]["list"]:
            if v["type"] == "query":
                out.append(Query(f"{path.name}: variable ${v['name']}", v["query"]["query"]))
    return out


def grafana_alert_queries() -> list[Query]:
    """The Prometheus queries of Grafana's provisioned alert rules (their math steps are Grafana's own)."""
    doc = yaml.safe_load(GRAFANA_RULES.read_text())
    return [
        Query(f"rules.yaml: {rule['title']} [{d['refId']}]", d["model"]["expr"].replace("$$", "$"))
        for group in doc["groups"]
        for rule in group["rules"]
        for d in rule["data"]
        if d["datasourceUid"] != "__expr__"
    ]


def prometheus_alert_rules() -> list[Query]:
    out = []
    for path in sorted(PROMETHEUS_RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            out.extend(Query(f"{path.name}: {r['alert']}", r["expr"]) for r in group["rules"])
    return out


def substitute(expr: str, model: str, rate_interval: str = "30s", range_: str = "5m") -> str:
    """Grafana's variables for one model: ``$model``, ``$__rate_interval``, ``$__range``, ``$__interval``."""
    return (
        expr.replace("$__rate_interval", rate_interval)
        .replace("$__range", range_)
        .replace("$__interval", "5s")
        .replace("$model", model)
    )


_SPLIT = re.compile(r"\s*(?:==|!=|>=|<=|>|<|\band\b|\bor\b|\bunless\b)\s*(?:bool\b\s*)?")
_NUMERIC = re.compile(r"^[\d.\s()+*/eE-]*$")


def operands(expr: str) -> list[str]:
    """The parts of ``expr`` between top-level comparison and set operators, numbers left out.

    ``time() - a > 3 * b + 60`` gives ``["time() - a", "3 * b + 60"]``.
    """
    text = " ".join(expr.split())
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == '"':
            i = text.index('"', i + 1)
        elif depth == 0 and (match := _SPLIT.match(text, i)):
            parts.append(text[start:i])
            start = i = match.end()
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip() and not _NUMERIC.match(p.strip())]


def label_values_query(expr: str) -> tuple[str, str] | None:
    """(metric, label) of a Grafana ``label_values(metric, label)`` variable query, else None."""
    match = LABEL_VALUES.match(expr.strip())
    return (match.group("metric").strip(), match.group("label")) if match else None
