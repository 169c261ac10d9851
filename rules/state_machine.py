"""The pending/firing state machine of one (rule, model), with Prometheus alerting semantics.

* A true condition makes an inactive rule *pending* (or *firing* at once when ``for`` is 0).
* A pending rule becomes *firing* at the first true evaluation at least ``for`` after the
  streak began (``active_since``); a false evaluation while pending cancels it (back to inactive).
* A firing rule stays firing while false until it has been false for ``keep_firing_for``,
  counted from the first false evaluation (``keep_firing_since``); then it is *resolved*
  (inactive again). A true evaluation while firing clears ``keep_firing_since``.

**Unknown (None) values.** An unknown evaluation is a gap: it changes neither the state nor
any timer (only ``last_eval_at``/``last_value`` record that it happened). Timers are wall-clock
from the first known observation of a streak, so the time of a gap counts toward ``for`` and
``keep_firing_for``; but a transition needs a known value: pending turns firing only on a true
evaluation, and firing resolves only on a false one. Hence a rule never fires unless the
condition was observed true at the start of the streak and at the firing time, with no false
observation between; and it never resolves unless the condition was observed false at both
ends of ``keep_firing_for`` with no true observation between.

A clock that steps backwards only delays transitions: elapsed times are compared as measured.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, TypeGuard

STATE_VERSION = 1
Phase = Literal["inactive", "pending", "firing"]
TransitionKind = Literal["pending", "firing", "resolved", "cancelled"]
PHASES: tuple[str, ...] = ("inactive", "pending", "firing")
_TIMES = (
    "active_since",
    "firing_since",
    "last_true_at",
    "last_eval_at",
    "resolved_at",
    "keep_firing_since",
    "last_proposed_at",
)


@dataclass(frozen=True)
class Transition:
    """A change of state at ``at``: to pending or firing, resolved (firing -> inactive) or
    cancelled (pending -> inactive before it fired). ``previous`` is the state it left."""

    kind: TransitionKind
    at: float
    previous: Phase


@dataclass(frozen=True)
class RuleState:
    """The persisted state of one rule for one model. Times are Unix seconds.

    ``last_proposed_at`` is kept by the engine: when it last handed this rule's actions on.
    """

    state: Phase = "inactive"
    active_since: float | None = None
    firing_since: float | None = None
    last_true_at: float | None = None
    last_eval_at: float | None = None
    last_value: bool | None = None
    resolved_at: float | None = None
    keep_firing_since: float | None = None
    last_proposed_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: Any) -> RuleState:
        """Read a state written by :meth:`to_json`; a wrong version or field is a ``ValueError`` naming it."""
        if not isinstance(data, dict):
            raise ValueError(f"rule state: expected a JSON object, got {type(data).__name__}")
        if data.get("version") != STATE_VERSION:
            raise ValueError(
                f"rule state: version {data.get('version')!r} is not supported (expected {STATE_VERSION})"
            )
        unknown = sorted(set(data) - {"version", "state", "last_value", *_TIMES})
        if unknown:
            raise ValueError(f"rule state: unknown field(s) {', '.join(unknown)}")
        phase = data.get("state", "inactive")
        if not _is_phase(phase):
            raise ValueError(f"rule state.state: got {phase!r}; expected one of {', '.join(PHASES)}")
        last_value = data.get("last_value")
        if last_value not in (True, False, None):
            raise ValueError(f"rule state.last_value: got {last_value!r}; expected true, false or null")
        times = {name: _time(name, data.get(name)) for name in _TIMES}
        return cls(state=phase, last_value=last_value, **times)


def _is_phase(value: object) -> TypeGuard[Phase]:
    return value in PHASES


def _time(name: str, value: object) -> float | None:
    """A persisted time field as a float; a bool, a non-number or a non-finite value is an error."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"rule state.{name}: got {value!r}; expected a Unix time in seconds or null")
    return float(value)


def step(
    state: RuleState, value: bool | None, now: float, for_s: float, keep_firing_for_s: float
) -> tuple[RuleState, Transition | None]:
    """Advance ``state`` by one evaluation whose result is ``value`` at time ``now``."""
    seen = replace(state, last_eval_at=now, last_value=value)
    if value is None:
        return seen, None
    if value:
        return _on_true(replace(seen, last_true_at=now), now, for_s)
    return _on_false(seen, now, keep_firing_for_s)


def _on_true(state: RuleState, now: float, for_s: float) -> tuple[RuleState, Transition | None]:
    if state.state == "firing":
        return replace(state, keep_firing_since=None), None
    if state.state == "inactive":
        started = replace(state, active_since=now, keep_firing_since=None)
        if for_s > 0:
            return replace(started, state="pending"), Transition("pending", now, "inactive")
        return replace(started, state="firing", firing_since=now), Transition("firing", now, "inactive")
    assert state.active_since is not None, "a pending state always has active_since"
    if now - state.active_since >= for_s:
        return replace(state, state="firing", firing_since=now), Transition("firing", now, "pending")
    return state, None


def _on_false(state: RuleState, now: float, keep_firing_for_s: float) -> tuple[RuleState, Transition | None]:
    if state.state == "inactive":
        return state, None
    if state.state == "pending":
        return replace(state, state="inactive", active_since=None), Transition("cancelled", now, "pending")
    since = state.keep_firing_since if state.keep_firing_since is not None else now
    if now - since >= keep_firing_for_s:
        resolved = replace(
            state,
            state="inactive",
            active_since=None,
            firing_since=None,
            keep_firing_since=None,
            resolved_at=now,
        )
        return resolved, Transition("resolved", now, "firing")
    return replace(state, keep_firing_since=since), None
