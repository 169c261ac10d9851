"""Small builders for Grafana dashboard JSON (schema version 39), used by ``build.py``.

Every query goes to the provisioned Prometheus datasource (uid ``modelhealthd-prometheus``).
Panels are laid out left to right on Grafana's 24-column grid, wrapping to a new row.
"""

from __future__ import annotations

from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "modelhealthd-prometheus"}
SCHEMA_VERSION = 39


def target(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> dict[str, Any]:
    return {
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "refId": ref,
        "range": not instant,
        "instant": instant,
    }


def _targets(queries: list[tuple[str, str]], instant: bool = False) -> list[dict[str, Any]]:
    return [target(expr, legend, chr(ord("A") + i), instant) for i, (expr, legend) in enumerate(queries)]


def timeseries(
    title: str,
    queries: list[tuple[str, str]],
    unit: str = "short",
    description: str = "",
    stepped: bool = False,
    **defaults: Any,
) -> dict[str, Any]:
    custom: dict[str, Any] = {"lineWidth": 2, "fillOpacity": 10, "showPoints": "never"}
    if stepped:
        custom["lineInterpolation"] = "stepAfter"
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": _targets(queries),
        "fieldConfig": {"defaults": {"unit": unit, "custom": custom, **defaults}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
    }


def stat(
    title: str, expr: str, unit: str = "short", description: str = "", thresholds=None
) -> dict[str, Any]:  # noqa: ANN001
    steps = thresholds or [{"color": "green", "value": None}]
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": [target(expr, instant=True)],
        "fieldConfig": {
            "defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}},
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"]},
            "colorMode": "background",
            "graphMode": "none",
        },
    }


def alarm(limit: float) -> list[dict[str, Any]]:
    """Thresholds: green below ``limit``, red at or above it."""
    return [{"color": "green", "value": None}, {"color": "red", "value": limit}]


def table(title: str, queries: list[tuple[str, str]], description: str = "") -> dict[str, Any]:
    """One row per model: instant queries joined on the ``model`` label."""
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": [dict(t, format="table") for t in _targets(queries, instant=True)],
        "transformations": [
            {"id": "joinByField", "options": {"byField": "model", "mode": "outer"}},
            {"id": "filterFieldsByName", "options": {"include": {"pattern": "^(model|Value.*)$"}}},
            {
                "id": "organize",
                "options": {
                    "renameByName": {
                        f"Value #{chr(ord('A') + i)}": legend for i, (_, legend) in enumerate(queries)
                    }
                },
            },
        ],
        "fieldConfig": {"defaults": {"decimals": 3}, "overrides": []},
        "options": {"showHeader": True, "sortBy": [{"displayName": "model"}]},
    }


def state_timeline(title: str, expr: str, legend: str, description: str = "") -> dict[str, Any]:
    return {
        "type": "state-timeline",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": [target(expr, legend)],
        "fieldConfig": {
            "defaults": {
                "mappings": [
                    {
                        "type": "value",
                        "options": {
                            "0": {"text": "ok", "color": "green"},
                            "1": {"text": "on", "color": "red"},
                        },
                    }
                ],
                "thresholds": {"mode": "absolute", "steps": alarm(1)},
            },
            "overrides": [],
        },
        "options": {"showValue": "never", "mergeValues": True},
    }


def row(title: str) -> dict[str, Any]:
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def layout(items: list[tuple[dict[str, Any], int, int]]) -> list[dict[str, Any]]:
    """Give each (panel, width, height) a grid position and an id; a row starts a new line."""
    panels, x, y, line_height = [], 0, 0, 0
    for number, (panel, width, height) in enumerate(items, start=1):
        if panel["type"] == "row" or x + width > 24:
            x, y, line_height = 0, y + line_height, 0
        panels.append(dict(panel, id=number, gridPos={"h": height, "w": width, "x": x, "y": y}))
        x, line_height = x + width, max(line_height, height)
        if panel["type"] == "row":
            x, y, line_height = 0, y + height, 0
    return panels


def model_variable() -> dict[str, Any]:
    query = "label_values(modelhealth_production_version, model)"
    return {
        "name": "model",
        "label": "model",
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": "model"},
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "multi": False,
        "includeAll": False,
    }


def promotion_annotation(kind: str, color: str) -> dict[str, Any]:
    """Marks each promotion (or rollback) at its time: the gauge's value is the event's Unix time."""
    return {
        "name": "promotions" if kind == "promote" else "rollbacks",
        "datasource": DATASOURCE,
        "enable": True,
        "iconColor": color,
        "expr": f'modelhealth_last_promotion_timestamp_seconds{{model="$model",kind="{kind}"}} * 1000',
        "step": "10s",
        "useValueForTime": True,
        "titleFormat": f"{kind} {{{{model}}}}",
        "textFormat": "see modelhealthd decisions --model {{model}}",
        "tagKeys": "kind",
    }


def dashboard(
    uid: str, title: str, description: str, panels: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["modelhealthd"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "utc",
        "templating": {"list": extra.pop("variables", [])},
        "annotations": {"list": extra.pop("annotations", [])},
        "links": [
            {"title": "modelhealthd", "type": "dashboards", "tags": ["modelhealthd"], "asDropdown": True}
        ],
        "panels": panels,
        **extra,
    }
