"""The rule engine: states, transitions, decisions and proposals per step; alerts to rules."""

from __future__ import annotations

import json

import pytest

from rules.decisions import Decision, alert_decision, guard_decision, transition_decision
from rules.engine import RuleEngine
from rules.guards import MemoryGuardContext, default_guards, run_guards
from rules.loader import parse_rules
from rules.state_machine import RuleState, Transition

RULES = """
rules:
  - name: feature-drift
    when: drift_share > 0.3 && rows >= 500
    for: 2m
    keep_firing_for: 5m
    cooldown: 1h
    labels: {team: ml}
    actions:
      - pipeline: retrain
        with: {augment: [noise, shift]}
      - pipeline: notify
  - name: slow
    models: ["vision-*"]
    when: latency_p95_seconds > 0.02
    severity: critical
    cooldown: 10m
    actions: [{pipeline: quantize}]
  - name: only-team-nlp
    selector: {team: nlp}
    when: rows > 0
    actions: [{pipeline: notify}]
  - name: watch-only
    when: error_ratio > 0.1
  - name: grafana-latency
    source: alert
    match: {alertname: ModelSlow, labels: {severity: critical}}
    actions: [{pipeline: quantize}]
  - name: any-model-label
    source: alert
    match: {alertname: ModelBroken}
    model_label: service
    models: ["vision-*"]
    actions: [{pipeline: retrain}]
"""

DRIFTED = {"drift_share": 0.62, "rows": 900.0}


@pytest.fixture
def engine() -> RuleEngine:
    return RuleEngine(parse_rules(RULES, "rules.yaml"))


def run(engine, model, steps, labels=None, start=0.0, spacing=60.0, states=None):
    states = dict(states or {})
    evaluations = []
    for i, measurements in enumerate(steps):
        ev = engine.evaluate(model, labels or {}, measurements, states, start + i * spacing)
        states = ev.states
        evaluations.append(ev)
    return evaluations


def test_only_applicable_metric_rules_get_states(engine):
    (ev,) = run(engine, "digits", [{}])
    assert set(ev.states) == {"feature-drift", "watch-only"}
    (ev,) = run(engine, "vision-a", [{}], labels={"team": "nlp"})
    assert set(ev.states) == {"feature-drift", "slow", "only-team-nlp", "watch-only"}


def test_pending_then_firing_with_decisions_and_proposals(engine):
    evs = run(engine, "digits", [DRIFTED, DRIFTED, DRIFTED])
    assert [ev.transitions for ev in evs] == [
        (("feature-drift", Transition("pending", 0.0, "inactive")),),
        (),
        (("feature-drift", Transition("firing", 120.0, "pending")),),
    ]
    assert [len(ev.proposals) for ev in evs] == [0, 0, 2]
    assert evs[0].decisions[0].message == (
        "rule feature-drift pending for digits: drift_share=0.62 > 0.3 && rows=900 >= 500; fires if it holds for 2m"
    )
    firing = evs[2].decisions[0]
    assert (
        firing.message
        == "rule feature-drift firing for digits: drift_share=0.62 > 0.3 && rows=900 >= 500 for 2m"
    )
    assert (firing.kind, firing.model, firing.rule, firing.at) == (
        "transition",
        "digits",
        "feature-drift",
        120.0,
    )
    assert firing.data["inputs"] == {"drift_share": 0.62, "rows": 900.0}
    retrain, notify = evs[2].proposals
    assert (retrain.rule, retrain.model, retrain.action.pipeline, retrain.at) == (
        "feature-drift",
        "digits",
        "retrain",
        120.0,
    )
    assert retrain.action.params == {"augment": ["noise", "shift"]}
    assert (retrain.severity, retrain.source, retrain.cooldown_s) == ("warning", "metrics", 3600.0)
    assert retrain.inputs == {"drift_share": 0.62, "rows": 900.0} and retrain.labels == {"team": "ml"}
    assert notify.action.pipeline == "notify"
    assert evs[2].firing == ("feature-drift",)
    assert evs[2].states["feature-drift"].last_proposed_at == 120.0


def test_re_proposes_while_firing_only_after_the_cooldown(engine):
    steps = [DRIFTED] * 65  # 64 minutes
    evs = run(engine, "digits", steps)
    proposing = [ev.at for ev in evs if ev.proposals]
    assert proposing == [120.0, 120.0 + 3600.0]
    assert all(ev.states["feature-drift"].state == "firing" for ev in evs[2:])


def test_unknown_measurements_change_nothing(engine):
    before = run(engine, "digits", [DRIFTED])[0].states
    (ev,) = run(engine, "digits", [{"drift_share": None, "rows": 900.0}], states=before, start=60.0)
    assert ev.transitions == () and ev.decisions == () and ev.proposals == ()
    assert ev.states["feature-drift"].state == "pending"
    assert ev.states["feature-drift"].active_since == 0.0
    assert next(r for r in ev.results if r.rule == "feature-drift").value is None


def test_resolution_after_keep_firing_for(engine):
    evs = run(engine, "digits", [DRIFTED] * 3 + [{"drift_share": 0.1, "rows": 900.0}] * 6)
    resolved = [(ev.at, ev.decisions[0].message) for ev in evs if ev.transitions]
    assert resolved[-1] == (
        480.0,
        "rule feature-drift resolved for digits: drift_share=0.1 > 0.3 && rows=900 >= 500; false for 5m",
    )


def test_rules_without_actions_record_transitions_only(engine):
    (ev,) = run(engine, "digits", [{"error_ratio": 0.5}])
    assert ev.transitions == (("watch-only", Transition("firing", 0.0, "inactive")),)
    assert ev.proposals == ()


def test_evaluate_is_pure(engine):
    states = {"feature-drift": RuleState("pending", active_since=0.0, last_true_at=0.0)}
    frozen = dict(states)
    a = engine.evaluate("digits", {}, DRIFTED, states, 120.0)
    b = engine.evaluate("digits", {}, DRIFTED, states, 120.0)
    assert states == frozen
    assert a.states == b.states and a.decisions == b.decisions and a.proposals == b.proposals


def test_states_of_removed_rules_are_dropped(engine):
    (ev,) = run(engine, "digits", [{}], states={"gone": RuleState("firing", 0.0, 0.0)})
    assert "gone" not in ev.states


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (
            {"alertname": "ModelSlow", "severity": "critical", "model": "digits"},
            [("grafana-latency", "digits")],
        ),
        ({"alertname": "ModelSlow", "severity": "warning", "model": "digits"}, []),
        ({"alertname": "ModelSlow", "severity": "critical"}, []),  # names no model
        ({"alertname": "Other", "severity": "critical", "model": "digits"}, []),
        ({"alertname": "ModelBroken", "service": "vision-a"}, [("any-model-label", "vision-a")]),
        ({"alertname": "ModelBroken", "service": "digits"}, []),  # outside the models pattern
    ],
)
def test_match_alert(engine, labels, expected):
    assert [(rule.name, model) for rule, model in engine.match_alert(labels)] == expected


def test_match_alert_with_known_models(engine):
    labels = {"alertname": "ModelSlow", "severity": "critical", "model": "digits"}
    assert engine.match_alert(labels, model_labels={"wine": {}}) == []
    assert [m for _, m in engine.match_alert(labels, model_labels={"digits": {}})] == ["digits"]


def test_alert_proposals(engine):
    labels = {"alertname": "ModelSlow", "severity": "critical", "model": "digits"}
    (p,) = engine.alert_proposals(labels, now=50.0)
    assert (p.rule, p.model, p.action.pipeline, p.source, p.at, p.inputs) == (
        "grafana-latency",
        "digits",
        "quantize",
        "alert",
        50.0,
        {},
    )
    assert p.labels["alertname"] == "ModelSlow"


# --- decisions


def test_guard_decisions_read_well_and_are_json(engine):
    proposal = run(engine, "digits", [DRIFTED] * 3)[2].proposals[0]
    ctx = MemoryGuardContext()
    allowed = guard_decision(run_guards(proposal, default_guards(), ctx, proposal.at))
    assert allowed.message == "allowed retrain for digits (rule feature-drift); every guard allowed it"
    dry = guard_decision(run_guards(proposal, default_guards(), ctx, proposal.at), dry_run=True)
    assert (
        dry.message
        == "dry run: would have run retrain for digits (rule feature-drift); every guard allowed it"
    )
    assert dry.data["would_run"] is True
    ctx.start_job("feature-drift", "digits", proposal.at - 600)
    refused = guard_decision(run_guards(proposal, default_guards(), ctx, proposal.at))
    assert refused.message == (
        "rate-limited: refused retrain for digits (rule feature-drift) by inhibition: "
        "1 job is already running for digits"
    )
    assert refused.kind == "guard" and refused.data["allowed"] is False and refused.data["rate_limited"]
    assert allowed.data["rate_limited"] is False
    assert Decision.from_json(json.loads(json.dumps(refused.to_json()))) == refused


def test_transition_decision_for_a_cancelled_streak(engine):
    rule = engine.ruleset.get("feature-drift")
    previous = RuleState("pending", active_since=0.0, last_true_at=0.0)
    decision = transition_decision(
        rule, "digits", Transition("cancelled", 60.0, "pending"), previous, {"rows": 10}
    )
    assert decision.message == (
        "rule feature-drift no longer pending for digits: drift_share=unknown > 0.3 && rows=10 >= 500"
    )
    assert decision.data["inputs"] == {"drift_share": None, "rows": 10.0}


def test_alert_decision(engine):
    rule = engine.ruleset.get("grafana-latency")
    d = alert_decision(rule, "digits", {"alertname": "ModelSlow"}, 5.0)
    assert (d.kind, d.message) == ("alert", "alert ModelSlow for digits taken by rule grafana-latency")


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"kind": "whim"}, "decision kind"),
        ({"data": {"x": object()}}, "JSON"),
        ({"data": {"x": float("nan")}}, "JSON"),
    ],
)
def test_decisions_refuse_bad_kinds_and_data(kwargs, words):
    base = {"at": 0.0, "kind": "job", "model": "m", "rule": None, "message": "x"}
    with pytest.raises(ValueError, match=words):
        Decision(**{**base, **kwargs})


def test_decision_from_json_names_missing_fields():
    with pytest.raises(ValueError, match="missing field"):
        Decision.from_json({"kind": "job"})
