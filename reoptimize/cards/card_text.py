"""The Markdown page of a model card."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from reoptimize.cards.card import HEADLINE, ModelCard
from reoptimize.gate.verdict import GateVerdict, format_time, trigger_when


def _num(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _trigger(trigger: Mapping[str, Any]) -> str:
    if not trigger:
        return "none (trained or registered by hand)"
    values = trigger.get("inputs") or trigger.get("measurements") or {}
    shown = ", ".join(
        f"{k}={_num(v)}" for k, v in list(values.items())[:6] if not isinstance(v, Mapping | list)
    )
    when = trigger_when(trigger.get("at"), trigger.get("condition_since"))
    return (
        f"rule {trigger.get('rule', '?')}" + (f" ({shown})" if shown else "") + (f" {when}" if when else "")
    )


def _moment(value: Any) -> str:
    """A data window's start or end (ISO text in the lineage, or Unix seconds) as RFC 3339."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return format_time(None)
        # A time without a zone is UTC: the lineage writes every window in UTC.
        value = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    return format_time(value)


def _gate_text(gate: Mapping[str, Any]) -> str:
    # Written again from the verdict's fields, so a card of an older version reads its times
    # the way the current text does; a verdict this code cannot read keeps its stored text.
    try:
        return GateVerdict.from_json(gate).text()
    except ValueError:
        return str(gate.get("text", ""))


def _windows(windows: Mapping[str, Any]) -> list[str]:
    lines = []
    for name, w in windows.items():
        if not isinstance(w, Mapping):
            continue
        span = f", {_moment(w['start'])} to {_moment(w.get('end'))}" if "start" in w else ""
        lines.append(f"- {name}: {w.get('rows', '?')} rows{span}")
    return lines


def card_markdown(card: ModelCard) -> str:
    lineage = card.lineage
    champion = lineage.get("champion_metrics") or {}
    classes = f", {len(card.classes)} classes" if card.classes else ""
    made_by = lineage.get("source") or (
        f"job {lineage.get('job_id')} (pipeline {lineage.get('pipeline')}"
        + (f", plan {lineage['plan']['name']}" if isinstance(lineage.get("plan"), Mapping) else "")
        + ")"
    )
    lines = [
        f"# {card.model} v{card.version}",
        "",
        "| | |",
        "|---|---|",
        f"| Task | {card.task}{classes}, {len(card.features)} features, label `{card.label}` |",
        f"| Parent | {'v' + card.parent if card.parent else '–'} |",
        f"| Made by | {made_by} |",
        f"| Trigger | {_trigger(lineage.get('trigger') or {})} |",
    ]
    if isinstance(lineage.get("goal"), Mapping):
        lines.append(f"| Goal | {lineage['goal'].get('kind')}: {lineage['goal'].get('reason')} |")
    lines += [
        "",
        "## Metrics",
        "",
        "Measured on this machine in the same run as the champion it replaced.",
        "",
    ]
    lines += ["| metric | this version | champion |", "|---|---|---|"]
    for key, title in HEADLINE:
        if card.metrics.get(key) is not None or champion.get(key) is not None:
            lines.append(f"| {title} | {_num(card.metrics.get(key))} | {_num(champion.get(key))} |")
    gate = card.gate
    if gate:
        lines += ["", "## Gate verdict", "", "```text", _gate_text(gate), "```"]
    candidates = lineage.get("candidates") or []
    if candidates:
        lines += [
            "",
            "## Candidates considered",
            "",
            "| candidate | plan | status | why |",
            "|---|---|---|---|",
        ]
        for c in candidates:
            reason = str(c.get("reason", "")).replace("|", "/")
            lines.append(f"| {c.get('name')} | {c.get('plan')} | {c.get('status')} | {reason} |")
    windows = _windows(lineage.get("data_windows") or {})
    if windows:
        lines += ["", "## Data", "", *windows]
    inputs = lineage.get("inputs") or {}
    if inputs:
        lines += ["", "Inputs (sha256):", "", *(f"- {k}: `{v}`" for k, v in inputs.items())]
    if card.training:
        lines += ["", "## How it was built", ""]
        lines += [f"- {k}: `{v}`" for k, v in card.training.items()]
    lines += ["", "## What the model does", ""]
    s = card.surrogate
    if s is None:
        lines.append("No surrogate: the reference holds too few rows to fit one.")
    else:
        metric = (
            "agrees with the model on"
            if s.fidelity_metric == "agreement"
            else "reaches R² against the model of"
        )
        value = f"{s.fidelity:.1%}" if s.fidelity_metric == "agreement" else f"{s.fidelity:.3f}"
        lines += [
            f"A decision tree of depth {s.depth}, fitted to this model's predictions on {s.rows} reference rows, "
            f"{metric} {value} of {s.held_out_rows} rows it did not see. "
            "Read its rules as a summary of the model's behaviour, as far as that fidelity allows:",
            "",
            *(f"{i}. {rule}" for i, rule in enumerate(s.rules, start=1)),
        ]
    if card.files:
        lines += ["", "## Files", "", "| file | sha256 |", "|---|---|"]
        lines += [f"| {name} | `{digest}` |" for name, digest in sorted(card.files.items())]
    return "\n".join(lines) + "\n"
