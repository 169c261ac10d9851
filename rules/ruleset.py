"""A set of loaded rules."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from rules.rule_schema import Rule


@dataclass(frozen=True)
class RuleSet:
    """The rules in force, in file order. Names are unique across the whole set."""

    rules: tuple[Rule, ...] = ()
    sources: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, name: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.name == name), None)

    @property
    def metric_rules(self) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.source == "metrics")

    @property
    def alert_rules(self) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.source == "alert")
