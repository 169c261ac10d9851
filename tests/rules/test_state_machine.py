"""The pending/firing state machine: worked sequences, persistence, and properties over random runs."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.state_machine import STATE_VERSION, RuleState, step

T, F, U = True, False, None


def run(values, for_s, keep_s, spacing=60.0, start=1000.0):
    """Step through ``values`` one ``spacing`` apart; return (state, kind-or-None) after each step."""
    state, out = RuleState(), []
    for i, value in enumerate(values):
        state, transition = step(state, value, start + i * spacing, for_s, keep_s)
        out.append((state.state, transition.kind if transition else None))
    return out


# (values, for, keep_firing_for, expected (state, transition) after each step)
SEQUENCES = [
    ([T, T, T], 120, 0, [("pending", "pending"), ("pending", None), ("firing", "firing")]),
    ([T, T, F], 120, 0, [("pending", "pending"), ("pending", None), ("inactive", "cancelled")]),
    ([T, F], 0, 0, [("firing", "firing"), ("inactive", "resolved")]),
    (
        [T, F, F, F],
        0,
        120,
        [("firing", "firing"), ("firing", None), ("firing", None), ("inactive", "resolved")],
    ),
    (
        [T, F, T, F, F],
        0,
        120,
        [("firing", "firing"), ("firing", None), ("firing", None), ("firing", None), ("firing", None)],
    ),
    ([F, F], 60, 60, [("inactive", None), ("inactive", None)]),
    # unknown holds every state
    ([U, U], 60, 60, [("inactive", None), ("inactive", None)]),
    ([T, U, U], 60, 0, [("pending", "pending"), ("pending", None), ("pending", None)]),
    ([T, F, U, U], 0, 60, [("firing", "firing"), ("firing", None), ("firing", None), ("firing", None)]),
    # the gap counts toward `for`, but firing needs a true at the end of it
    (
        [T, U, U, T],
        120,
        0,
        [("pending", "pending"), ("pending", None), ("pending", None), ("firing", "firing")],
    ),
    # and toward keep_firing_for, but resolving needs a false at the end of it
    (
        [T, F, U, U, F],
        0,
        120,
        [
            ("firing", "firing"),
            ("firing", None),
            ("firing", None),
            ("firing", None),
            ("inactive", "resolved"),
        ],
    ),
    # a fresh streak after a cancellation starts its `for` again
    (
        [T, F, T, T, T],
        120,
        0,
        [
            ("pending", "pending"),
            ("inactive", "cancelled"),
            ("pending", "pending"),
            ("pending", None),
            ("firing", "firing"),
        ],
    ),
    # after resolving, the rule can fire again
    ([T, F, T], 0, 0, [("firing", "firing"), ("inactive", "resolved"), ("firing", "firing")]),
]


@pytest.mark.parametrize(("values", "for_s", "keep_s", "expected"), SEQUENCES)
def test_sequences(values, for_s, keep_s, expected):
    assert run(values, for_s, keep_s) == expected


def test_timers_and_transition_details():
    s, t = step(RuleState(), T, 100.0, 60, 30)
    assert (s.state, s.active_since, s.last_true_at, t.kind, t.at, t.previous) == (
        "pending",
        100.0,
        100.0,
        "pending",
        100.0,
        "inactive",
    )
    s, t = step(s, T, 160.0, 60, 30)
    assert (s.state, s.firing_since, s.active_since, t.previous) == ("firing", 160.0, 100.0, "pending")
    s, t = step(s, F, 170.0, 60, 30)
    assert (s.state, s.keep_firing_since, t) == ("firing", 170.0, None)
    s, t = step(s, F, 200.0, 60, 30)
    assert (s.state, s.resolved_at, s.active_since, s.firing_since, s.keep_firing_since) == (
        "inactive",
        200.0,
        None,
        None,
        None,
    )
    assert (t.kind, t.previous, s.last_true_at, s.last_value, s.last_eval_at) == (
        "resolved",
        "firing",
        160.0,
        False,
        200.0,
    )


def test_a_clock_stepping_back_only_delays():
    s, _ = step(RuleState(), T, 1000.0, 60, 0)
    s, t = step(s, T, 900.0, 60, 0)
    assert s.state == "pending" and t is None


def test_json_round_trip_and_version_check():
    state = RuleState("firing", 1.0, 2.0, 3.0, 4.0, True, None, 5.0, 6.0)
    data = json.loads(json.dumps(state.to_json()))
    assert data["version"] == STATE_VERSION
    assert RuleState.from_json(data) == state


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ([], "expected a JSON object"),
        ({"version": 99, "state": "firing"}, "version 99"),
        ({"state": "firing"}, "version None"),
        ({"version": STATE_VERSION, "state": "burning"}, "state.state: got 'burning'"),
        ({"version": STATE_VERSION, "last_value": "yes"}, "state.last_value: got 'yes'"),
        ({"version": STATE_VERSION, "active_since": "noon"}, "state.active_since: got 'noon'"),
        ({"version": STATE_VERSION, "active_since": float("inf")}, "state.active_since"),
        ({"version": STATE_VERSION, "colour": 1}, "unknown field(s) colour"),
    ],
)
def test_from_json_names_the_bad_field(data, words):
    with pytest.raises(ValueError) as caught:
        RuleState.from_json(data)
    assert words in str(caught.value)


# ---- properties over random runs -------------------------------------------------------------

runs = st.lists(st.tuples(st.integers(0, 300), st.sampled_from([T, F, U])), min_size=1, max_size=60)
durations = st.sampled_from([0, 30, 60, 120, 300, 600])


@settings(max_examples=300, deadline=None)
@given(runs, durations, durations)
def test_unknown_never_changes_state_or_timers(samples, for_s, keep_s):
    state, now = RuleState(), 0.0
    for dt, value in samples:
        now += dt
        before = state
        state, transition = step(state, value, now, for_s, keep_s)
        if value is None:
            assert transition is None
            assert state == replace(before, last_eval_at=now, last_value=None)


@settings(max_examples=300, deadline=None)
@given(runs, durations, durations)
def test_fires_exactly_when_true_has_held_for_for(samples, for_s, keep_s):
    # streak_start: the first true since the last false (unknowns neither start nor break it)
    state, now, streak_start = RuleState(), 0.0, None
    for dt, value in samples:
        now += dt
        was_firing = state.state == "firing"
        state, transition = step(state, value, now, for_s, keep_s)
        if value is False:
            streak_start = None
        elif value is True and streak_start is None:
            streak_start = now
        if transition is not None and transition.kind == "firing":
            assert value is True and now - streak_start >= for_s
        if value is True and (now - streak_start >= for_s or was_firing):
            assert state.state == "firing"
        if value is True and state.state == "pending":
            assert now - streak_start < for_s


@settings(max_examples=300, deadline=None)
@given(runs, durations, durations)
def test_resolves_exactly_when_false_has_held_for_keep_firing_for(samples, for_s, keep_s):
    state, now, false_start = RuleState(), 0.0, None
    for dt, value in samples:
        now += dt
        was_firing = state.state == "firing"
        state, transition = step(state, value, now, for_s, keep_s)
        if value is True:
            false_start = None
        elif value is False and false_start is None:
            false_start = now
        if transition is not None and transition.kind == "resolved":
            assert was_firing and value is False and now - false_start >= keep_s
        if was_firing and value is False and now - false_start >= keep_s:
            assert transition is not None and transition.kind == "resolved"
        if state.state == "firing" and value is False:
            assert now - false_start < keep_s


@settings(max_examples=200, deadline=None)
@given(runs, durations, durations)
def test_states_survive_persistence_mid_run(samples, for_s, keep_s):
    direct, restored, now = RuleState(), RuleState(), 0.0
    for dt, value in samples:
        now += dt
        direct, _ = step(direct, value, now, for_s, keep_s)
        restored, _ = step(
            RuleState.from_json(json.loads(json.dumps(restored.to_json()))), value, now, for_s, keep_s
        )
        assert restored == direct
