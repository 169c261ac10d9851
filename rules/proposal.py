"""A proposal: one action a rule wants to run on one model, on its way through the guards."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from rules.rule_schema import Action


@dataclass(frozen=True)
class Proposal:
    """Rule ``rule`` proposes ``action`` for ``model`` at ``at``.

    ``inputs`` are the measurement values the rule's condition read (empty for alerts);
    ``cooldown_s`` is the rule's cooldown, or None to use the guard default.
    """

    rule: str
    model: str
    action: Action
    severity: str
    at: float
    source: Literal["metrics", "alert"] = "metrics"
    labels: Mapping[str, str] = field(default_factory=dict)
    inputs: Mapping[str, float | None] = field(default_factory=dict)
    cooldown_s: float | None = None

    @property
    def starts_job(self) -> bool:
        return self.action.starts_job

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "model": self.model,
            "action": self.action.to_json(),
            "severity": self.severity,
            "at": self.at,
            "source": self.source,
            "labels": dict(self.labels),
            "inputs": dict(self.inputs),
            "cooldown_s": self.cooldown_s,
        }
