"""Property tests of the whole guard pipeline over random streams of proposals and job outcomes.

Whatever the order of proposals, job durations, failures and breaker resets, the jobs the
pipeline lets start never break a limit: one job per model at a time, the global concurrency,
the rolling budget, the blast radius, the cooldown, and the circuit breaker.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.guards import GuardSettings, MemoryGuardContext, default_guards, run_guards
from rules.proposal import Proposal
from rules.rule_schema import Action

MODELS = ("a", "b", "c", "d")
RULES = {"drift": 600.0, "slow": 0.0}  # rule -> cooldown seconds


@dataclass(frozen=True)
class Event:
    gap: float  # seconds since the previous event
    model: str
    rule: str
    duration: float
    ok: bool
    reset: bool  # a person resets this model's breaker before the proposal


events = st.lists(
    st.builds(
        Event,
        gap=st.floats(0, 3600),
        model=st.sampled_from(MODELS),
        rule=st.sampled_from(sorted(RULES)),
        duration=st.floats(1, 7200),
        ok=st.booleans(),
        reset=st.sampled_from([False] * 7 + [True]),  # resets are rare
    ),
    max_size=60,
)
limits = st.builds(
    GuardSettings,
    concurrency=st.integers(1, 3),
    daily_budget=st.integers(1, 4),
    budget_window_s=st.sampled_from([3600.0, 86400.0]),
    blast_radius=st.integers(1, 3),
    blast_radius_window_s=st.sampled_from([600.0, 3600.0]),
    breaker_threshold=st.integers(1, 3),
)


@settings(max_examples=300, deadline=None)
@given(events, limits)
def test_started_jobs_never_break_a_limit(stream: list[Event], s: GuardSettings) -> None:
    ctx, guards = MemoryGuardContext(), default_guards(s)
    running: dict[int, tuple[float, bool]] = {}  # job id -> (end, ok)
    starts: list[tuple[float, str, str]] = []  # (at, model, rule)
    now = 0.0
    for e in stream:
        now += e.gap
        for job_id, (end, ok) in sorted(running.items(), key=lambda kv: kv[1][0]):
            if end <= now:
                ctx.finish_job(job_id, ok, end)
                del running[job_id]
        if e.reset:
            ctx.reset_breaker(e.model, now)
        failures_before = ctx.consecutive_failures(e.model)
        proposal = Proposal(
            e.rule, e.model, Action(pipeline="retrain"), "warning", now, cooldown_s=RULES[e.rule]
        )
        if not run_guards(proposal, guards, ctx, now).allowed:
            continue
        assert ctx.running_jobs(e.model) == 0
        assert ctx.running_jobs_total() < s.concurrency
        assert failures_before < s.breaker_threshold
        same = [at for at, m, r in starts if m == e.model and r == e.rule]
        assert not same or now - same[-1] >= RULES[e.rule]
        assert (
            sum(1 for at, m, _ in starts if m == e.model and at >= now - s.budget_window_s) < s.daily_budget
        )
        acted = {m for at, m, _ in starts if at >= now - s.blast_radius_window_s}
        assert e.model in acted or len(acted) < s.blast_radius
        running[ctx.start_job(e.rule, e.model, now)] = (now + e.duration, e.ok)
        starts.append((now, e.model, e.rule))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=40))
def test_consecutive_failures_count_from_the_last_success_or_reset(outcomes: list[tuple[bool, bool]]) -> None:
    ctx, t, expected = MemoryGuardContext(), 0.0, 0
    for ok, reset in outcomes:
        t += 10
        if reset:
            ctx.reset_breaker("a", t)
            expected = 0
        ctx.finish_job(ctx.start_job("r", "a", t + 1), ok, t + 2)
        expected = 0 if ok else expected + 1
        assert ctx.consecutive_failures("a") == expected
