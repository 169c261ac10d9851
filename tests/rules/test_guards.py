"""Each guard alone against the in-memory context, then the pipeline."""

from __future__ import annotations

import pytest

from rules.guards import (
    BlastRadiusGuard,
    CircuitBreakerGuard,
    ConcurrencyGuard,
    CooldownGuard,
    DailyBudgetGuard,
    GuardContext,
    GuardSettings,
    InhibitionGuard,
    MemoryGuardContext,
    default_guards,
    run_guards,
)
from rules.proposal import Proposal
from rules.rule_schema import Action

HOUR, DAY = 3600.0, 86400.0
NOW = 10 * DAY


def proposal(model="digits", rule="drift", pipeline="retrain", cooldown_s=HOUR) -> Proposal:
    return Proposal(rule, model, Action(pipeline=pipeline), "warning", NOW, cooldown_s=cooldown_s)


def finished(
    ctx: MemoryGuardContext, model: str, ok: bool, started: float, ended: float, rule="drift"
) -> None:
    ctx.finish_job(ctx.start_job(rule, model, started), ok, ended)


def test_memory_context_implements_the_protocol():
    assert isinstance(MemoryGuardContext(), GuardContext)


# --- cooldown


@pytest.mark.parametrize(
    ("last_ago", "cooldown", "allowed"),
    [(None, HOUR, True), (10 * 60, HOUR, False), (HOUR - 1, HOUR, False), (HOUR, HOUR, True), (5, 0, True)],
)
def test_cooldown(last_ago, cooldown, allowed):
    ctx = MemoryGuardContext()
    if last_ago is not None:
        finished(ctx, "digits", True, NOW - last_ago, NOW - last_ago + 1)
    verdict = CooldownGuard().check(proposal(cooldown_s=cooldown), ctx, NOW)
    assert verdict.allowed is allowed and verdict.guard == "cooldown"


def test_cooldown_is_per_rule_and_model_and_says_when():
    ctx = MemoryGuardContext()
    ctx.start_job("drift", "digits", NOW - 600)
    guard = CooldownGuard()
    refused = guard.check(proposal(), ctx, NOW)
    assert not refused.allowed
    assert refused.reason == "rule drift acted on digits 10m ago; cooldown 1h, next action allowed in 50m"
    assert guard.check(proposal(rule="latency"), ctx, NOW).allowed
    assert guard.check(proposal(model="wine"), ctx, NOW).allowed


def test_cooldown_falls_back_to_the_default():
    ctx = MemoryGuardContext()
    ctx.start_job("drift", "digits", NOW - 2 * HOUR)
    assert (
        CooldownGuard(default_cooldown_s=3 * HOUR).check(proposal(cooldown_s=None), ctx, NOW).allowed is False
    )
    assert CooldownGuard(default_cooldown_s=HOUR).check(proposal(cooldown_s=None), ctx, NOW).allowed is True


# --- inhibition


def test_inhibition_by_a_running_job_or_a_watch():
    ctx, guard = MemoryGuardContext(), InhibitionGuard()
    assert guard.check(proposal(), ctx, NOW).allowed
    job = ctx.start_job("other-rule", "digits", NOW - 5)
    verdict = guard.check(proposal(), ctx, NOW)
    assert not verdict.allowed and "already running for digits" in verdict.reason
    assert guard.check(proposal(model="wine"), ctx, NOW).allowed
    ctx.finish_job(job, True, NOW - 1)
    assert guard.check(proposal(), ctx, NOW).allowed
    ctx.watch("digits")
    verdict = guard.check(proposal(), ctx, NOW)
    assert not verdict.allowed and "post-promotion watch" in verdict.reason
    ctx.watch("digits", active=False)
    assert guard.check(proposal(), ctx, NOW).allowed


# --- concurrency


@pytest.mark.parametrize(
    ("running", "limit", "allowed"), [(0, 1, True), (1, 1, False), (1, 2, True), (2, 2, False)]
)
def test_concurrency(running, limit, allowed):
    ctx = MemoryGuardContext()
    for i in range(running):
        ctx.start_job("r", f"model-{i}", NOW - 10)
    assert ConcurrencyGuard(limit).check(proposal(), ctx, NOW).allowed is allowed


# --- daily budget


def test_daily_budget_rolls():
    ctx, guard = MemoryGuardContext(), DailyBudgetGuard(budget=2)
    finished(ctx, "digits", True, NOW - DAY - 1, NOW - DAY + 100)  # outside the window
    finished(ctx, "digits", False, NOW - 3 * HOUR, NOW - 2 * HOUR)
    finished(ctx, "wine", True, NOW - HOUR, NOW - HOUR + 5)
    assert guard.check(proposal(), ctx, NOW).allowed
    finished(ctx, "digits", True, NOW - HOUR, NOW - HOUR + 5)
    verdict = guard.check(proposal(), ctx, NOW)
    assert not verdict.allowed and verdict.reason == "2 of 2 jobs used for digits in the last 1d"
    assert guard.check(proposal(), ctx, NOW + DAY - 3 * HOUR + 1).allowed  # the oldest one left the window


# --- blast radius


def test_blast_radius_caps_distinct_models_in_the_window():
    ctx, guard = MemoryGuardContext(), BlastRadiusGuard(cap=2, window_s=HOUR)
    finished(ctx, "a", True, NOW - 2 * HOUR, NOW - 2 * HOUR + 5)  # outside the window
    finished(ctx, "b", True, NOW - 30 * 60, NOW - 29 * 60)
    assert guard.check(proposal(model="c"), ctx, NOW).allowed
    finished(ctx, "c", True, NOW - 20 * 60, NOW - 19 * 60)
    verdict = guard.check(proposal(model="d"), ctx, NOW)
    assert not verdict.allowed and "the cap is 2" in verdict.reason
    assert guard.check(proposal(model="b"), ctx, NOW).allowed  # already counted, adds no new model


# --- circuit breaker


def test_circuit_breaker_opens_half_opens_and_resets():
    ctx, guard = MemoryGuardContext(), CircuitBreakerGuard(threshold=2, reset_after_s=DAY)
    finished(ctx, "digits", False, NOW - 5 * HOUR, NOW - 4 * HOUR)
    assert guard.check(proposal(), ctx, NOW).allowed
    finished(ctx, "digits", False, NOW - 3 * HOUR, NOW - 2 * HOUR)
    verdict = guard.check(proposal(), ctx, NOW)
    assert not verdict.allowed and verdict.reason.startswith(
        "breaker open: 2 failed jobs in a row for digits"
    )
    assert "trial is allowed in 22h" in verdict.reason
    assert guard.check(proposal(model="wine"), ctx, NOW).allowed
    later = NOW - 2 * HOUR + DAY
    assert guard.check(proposal(), ctx, later).allowed  # half-open: one trial
    finished(ctx, "digits", False, later, later + 60)
    assert not guard.check(proposal(), ctx, later + 120).allowed  # the trial failed: open again
    finished(ctx, "digits", True, later + 2 * DAY, later + 2 * DAY + 60)
    assert ctx.consecutive_failures("digits") == 0
    assert guard.check(proposal(), ctx, later + 2 * DAY + 120).allowed


def test_a_success_between_failures_resets_the_count():
    ctx = MemoryGuardContext()
    finished(ctx, "digits", False, 1, 2)
    finished(ctx, "digits", True, 3, 4)
    finished(ctx, "digits", False, 5, 6)
    assert ctx.consecutive_failures("digits") == 1 and ctx.last_failure_at("digits") == 6


# --- the pipeline


def test_pipeline_allows_and_reports_every_verdict():
    outcome = run_guards(proposal(), default_guards(), MemoryGuardContext(), NOW)
    assert outcome.allowed and outcome.refused_by is None
    assert [v.guard for v in outcome.verdicts] == [
        "inhibition",
        "cooldown",
        "circuit_breaker",
        "budget",
        "blast_radius",
        "concurrency",
    ]


def test_pipeline_stops_at_the_first_refusal():
    ctx = MemoryGuardContext()
    ctx.start_job("drift", "digits", NOW - 60)  # running: inhibition refuses, cooldown would too
    outcome = run_guards(proposal(), default_guards(), ctx, NOW)
    assert not outcome.allowed
    assert [v.guard for v in outcome.verdicts] == ["inhibition"]
    assert outcome.refused_by.guard == "inhibition"


def test_pipeline_reaches_concurrency_last():
    ctx = MemoryGuardContext()
    ctx.start_job("other", "wine", NOW - 60)
    outcome = run_guards(proposal(), default_guards(GuardSettings(concurrency=1)), ctx, NOW)
    assert outcome.refused_by.guard == "concurrency" and len(outcome.verdicts) == 6
    assert run_guards(proposal(), default_guards(GuardSettings(concurrency=2)), ctx, NOW).allowed


def test_notify_passes_trivially():
    ctx = MemoryGuardContext()
    ctx.start_job("drift", "digits", NOW - 60)
    outcome = run_guards(proposal(pipeline="notify"), default_guards(), ctx, NOW)
    assert outcome.allowed and [v.guard for v in outcome.verdicts] == ["notify"]


def test_outcome_json_records_would_have_run():
    outcome = run_guards(proposal(), default_guards(), MemoryGuardContext(), NOW)
    data = outcome.to_json(dry_run=True)
    assert data["would_run"] is True and data["dry_run"] is True and data["allowed"] is True
    assert data["proposal"]["action"] == {"pipeline": "retrain", "with": {}}
    assert outcome.to_json()["would_run"] is False


@pytest.mark.parametrize(
    ("field", "value"),
    [("concurrency", 0), ("daily_budget", -1), ("blast_radius", 1.5), ("budget_window_s", -1)],
)
def test_settings_are_checked(field, value):
    with pytest.raises(ValueError, match=field):
        GuardSettings(**{field: value})


def test_settings_defaults():
    s = GuardSettings()
    assert (s.concurrency, s.daily_budget, s.blast_radius, s.blast_radius_window_s, s.breaker_threshold) == (
        1,
        5,
        10,
        HOUR,
        3,
    )


def test_an_open_breaker_stays_open_until_a_person_resets_it():
    ctx, guard = MemoryGuardContext(), CircuitBreakerGuard(threshold=2)  # no half-open timer
    for i in range(2):
        finished(ctx, "digits", False, NOW - (5 - i) * HOUR, NOW - (4 - i) * HOUR)
    verdict = guard.check(proposal(), ctx, NOW + 30 * DAY)
    assert not verdict.allowed and verdict.reason == (
        "breaker open: 2 failed jobs in a row for digits; a person must reset it "
        "(modelhealthd breaker reset digits)"
    )
    assert guard.is_open("digits", ctx, NOW) and not guard.is_open("wine", ctx, NOW)
    ctx.reset_breaker("digits", NOW)
    assert ctx.consecutive_failures("digits") == 0 and guard.check(proposal(), ctx, NOW).allowed
    finished(ctx, "digits", False, NOW + 10, NOW + 20)  # failures after the reset count again
    assert ctx.consecutive_failures("digits") == 1 and guard.check(proposal(), ctx, NOW + 30).allowed
    finished(ctx, "digits", False, NOW + 40, NOW + 50)
    assert not guard.check(proposal(), ctx, NOW + 60).allowed


def test_default_settings_need_a_person_to_close_the_breaker():
    assert GuardSettings().breaker_reset_s is None
    breaker = next(g for g in default_guards() if isinstance(g, CircuitBreakerGuard))
    assert breaker.reset_after_s is None
    assert GuardSettings(breaker_reset_s=60.0).breaker_reset_s == 60.0
