"""Property tests of when the rule engine hands a rule's actions to the guards.

Over any stream of true, false and unknown evaluations: actions are proposed at every
transition to firing, only while firing, and while a rule stays firing again exactly when its
cooldown has passed since the last proposal (as Alertmanager repeats a firing notification),
at an evaluation that saw the condition true.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.engine import RuleEngine
from rules.loader import parse_rules
from rules.state_machine import RuleState

samples = st.lists(
    st.tuples(st.floats(1, 600), st.sampled_from([0.9, 0.1, None])),  # (gap s, drift_share or unknown)
    max_size=80,
)
seconds = st.sampled_from([0, 60, 120, 300, 900])


@settings(max_examples=300, deadline=None)
@given(samples, seconds, seconds, seconds)
def test_proposals_follow_firing_and_the_cooldown(stream, for_s, keep_s, cooldown_s) -> None:
    text = (
        f"rules: [{{name: drift, when: drift_share > 0.5, for: {for_s}s, keep_firing_for: {keep_s}s, "
        f"cooldown: {cooldown_s}s, actions: [{{pipeline: retrain}}]}}]"
    )
    engine = RuleEngine(parse_rules(text))
    states: dict[str, RuleState] = {}
    now, last_proposal = 0.0, None
    for gap, value in stream:
        now += gap
        values = {} if value is None else {"drift_share": value}
        ev = engine.evaluate("m", {}, values, states, now)
        state = ev.states["drift"]
        became_firing = any(t.kind == "firing" for _, t in ev.transitions)
        proposed = bool(ev.proposals)
        assert not proposed or state.state == "firing"
        if became_firing:
            assert proposed
        elif state.state == "firing" and states["drift"].state == "firing":
            due = last_proposal is None or now - last_proposal >= cooldown_s
            # a repeat needs the condition observed true: unknown or false inputs never act
            assert proposed == (due and value == 0.9)
        else:
            assert not proposed
        if proposed:
            assert [p.rule for p in ev.proposals] == ["drift"] and ev.proposals[0].at == now
            last_proposal = now
        states = ev.states
