"""The guard pipeline: run the stages in order and stop at the first refusal."""

from __future__ import annotations

from collections.abc import Sequence

from rules.guards.blast_radius import BlastRadiusGuard
from rules.guards.budget import DailyBudgetGuard
from rules.guards.circuit_breaker import CircuitBreakerGuard
from rules.guards.concurrency import ConcurrencyGuard
from rules.guards.cooldown import CooldownGuard
from rules.guards.guard import Guard, GuardContext, GuardOutcome, GuardSettings, GuardVerdict
from rules.guards.inhibition import InhibitionGuard
from rules.proposal import Proposal


def default_guards(settings: GuardSettings | None = None) -> tuple[Guard, ...]:
    """The standard stages, cheapest-to-explain first: inhibition, cooldown, circuit breaker,
    daily budget, blast radius, then the global concurrency limit (a wait, not a judgement)."""
    s = settings or GuardSettings()
    return (
        InhibitionGuard(),
        CooldownGuard(s.default_cooldown_s),
        CircuitBreakerGuard(s.breaker_threshold, s.breaker_reset_s),
        DailyBudgetGuard(s.daily_budget, s.budget_window_s),
        BlastRadiusGuard(s.blast_radius, s.blast_radius_window_s),
        ConcurrencyGuard(s.concurrency),
    )


def run_guards(proposal: Proposal, guards: Sequence[Guard], ctx: GuardContext, now: float) -> GuardOutcome:
    """Check ``proposal`` against each guard in order; stop at the first refusal.

    A ``notify`` action starts no job, so it passes without consulting the guards.
    """
    if not proposal.starts_job:
        verdict = GuardVerdict(
            True, "notify", f"{proposal.action.pipeline} starts no job; guards do not apply"
        )
        return GuardOutcome(proposal, (verdict,))
    verdicts: list[GuardVerdict] = []
    for guard in guards:
        verdict = guard.check(proposal, ctx, now)
        verdicts.append(verdict)
        if not verdict.allowed:
            break
    return GuardOutcome(proposal, tuple(verdicts))
