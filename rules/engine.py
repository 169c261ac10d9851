"""The rule engine: one pure evaluation step per model, and the mapping of incoming alerts to rules.

Proposals. A rule hands its actions on (one :class:`Proposal` per action) when it *becomes*
firing, and again while it stays firing once its ``cooldown`` has passed since it last did,
as Alertmanager repeats a notification for a firing alert, but only at an evaluation that
observed the condition true: unknown inputs (a metrics source that is down) never act. Repeats let an action that the
guards refused (a job was running, the budget was spent) be tried again later without
waiting for the rule to resolve and fire anew. The guards still decide whether anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from rules.decisions import Decision, transition_decision
from rules.loader import RuleSet
from rules.proposal import Proposal
from rules.rule_schema import Rule
from rules.state_machine import RuleState, Transition, step


@dataclass(frozen=True)
class RuleResult:
    """What one rule made of one evaluation: its value (None = unknown), new state and transition."""

    rule: str
    value: bool | None
    state: RuleState
    transition: Transition | None


@dataclass(frozen=True)
class Evaluation:
    """The outcome of evaluating every applicable metrics rule for one model at ``at``.

    ``states`` holds a state for every applicable rule, and only those: the caller stores it
    in place of the previous mapping, so rules removed from the set (or no longer matching the
    model) are forgotten.
    """

    model: str
    at: float
    results: tuple[RuleResult, ...]
    decisions: tuple[Decision, ...]
    proposals: tuple[Proposal, ...]

    @property
    def states(self) -> dict[str, RuleState]:
        return {r.rule: r.state for r in self.results}

    @property
    def transitions(self) -> tuple[tuple[str, Transition], ...]:
        return tuple((r.rule, r.transition) for r in self.results if r.transition is not None)

    @property
    def firing(self) -> tuple[str, ...]:
        return tuple(r.rule for r in self.results if r.state.state == "firing")


class RuleEngine:
    """Evaluates a :class:`RuleSet`. Pure: no I/O and no clock; time comes in as ``now``.

    >>> from rules.loader import parse_rules
    >>> engine = RuleEngine(parse_rules("rules: [{name: slow, when: latency_p95_seconds > 0.02}]"))
    >>> engine.evaluate("digits", {}, {"latency_p95_seconds": 0.05}, {}, now=0.0).firing
    ('slow',)
    """

    def __init__(self, ruleset: RuleSet):
        self.ruleset = ruleset

    def evaluate(
        self,
        model: str,
        model_labels: Mapping[str, str],
        measurements: Mapping[str, float | None],
        states: Mapping[str, RuleState],
        now: float,
    ) -> Evaluation:
        """Step every metrics rule that applies to ``model`` with this check's ``measurements``."""
        results: list[RuleResult] = []
        decisions: list[Decision] = []
        proposals: list[Proposal] = []
        for rule in self.ruleset.metric_rules:
            if not rule.applies_to(model, model_labels):
                continue
            previous = states.get(rule.name, RuleState())
            value = rule.expression.evaluate(measurements)
            state, transition = step(previous, value, now, rule.for_s, rule.keep_firing_for_s)
            if transition is not None:
                decisions.append(transition_decision(rule, model, transition, previous, measurements))
            if rule.actions and _should_propose(rule, state, transition, value, now):
                inputs = rule.expression.inputs(measurements)
                labels = {**model_labels, **rule.labels}
                proposals.extend(_proposals(rule, model, now, "metrics", labels, inputs))
                state = replace(state, last_proposed_at=now)
            results.append(RuleResult(rule.name, value, state, transition))
        return Evaluation(model, now, tuple(results), tuple(decisions), tuple(proposals))

    def match_alert(
        self, alert_labels: Mapping[str, str], model_labels: Mapping[str, Mapping[str, str]] | None = None
    ) -> list[tuple[Rule, str]]:
        """The ``source: alert`` rules that take an alert with these labels, each with the model it names.

        The model is the alert's ``model_label`` label. With ``model_labels`` (model name to its
        labels) an alert naming an unknown model is skipped and rule selectors apply; without it
        only the rules' ``models`` patterns are checked.
        """
        matches: list[tuple[Rule, str]] = []
        for rule in self.ruleset.alert_rules:
            assert rule.match is not None, "alert rules always have a match"
            model = alert_labels.get(rule.model_label)
            if not model or not rule.match.matches(alert_labels):
                continue
            if model_labels is not None and model not in model_labels:
                continue
            labels = model_labels.get(model, {}) if model_labels is not None else {}
            if rule.applies_to(model, labels):
                matches.append((rule, model))
        return matches

    def alert_proposals(
        self,
        alert_labels: Mapping[str, str],
        now: float,
        model_labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> list[Proposal]:
        """Proposals for every action of every rule that takes this alert (see :meth:`match_alert`)."""
        out: list[Proposal] = []
        for rule, model in self.match_alert(alert_labels, model_labels):
            labels = {**alert_labels, **rule.labels}
            out.extend(_proposals(rule, model, now, "alert", labels, {}))
        return out


def _should_propose(
    rule: Rule, state: RuleState, transition: Transition | None, value: bool | None, now: float
) -> bool:
    if state.state != "firing":
        return False
    if transition is not None and transition.kind == "firing":
        return True
    # A repeat needs the condition observed true now: a firing rule whose inputs went unknown
    # (a source outage) or false (within keep_firing_for) acts on nothing it can see.
    if value is not True:
        return False
    last = state.last_proposed_at
    return last is None or now - last >= rule.cooldown_s


def _proposals(
    rule: Rule,
    model: str,
    now: float,
    source: Literal["metrics", "alert"],
    labels: Mapping[str, str],
    inputs: Mapping[str, float | None],
) -> list[Proposal]:
    return [
        Proposal(
            rule=rule.name,
            model=model,
            action=action,
            severity=rule.severity,
            at=now,
            source=source,
            labels=dict(labels),
            inputs=dict(inputs),
            cooldown_s=rule.cooldown_s,
        )
        for action in rule.actions
    ]
