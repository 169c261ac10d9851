"""Circuit breaker: stop starting jobs for a model whose jobs keep failing."""

from __future__ import annotations

from dataclasses import dataclass

from rules.guards.base import GuardContext, GuardVerdict, human
from rules.proposal import Proposal


@dataclass(frozen=True)
class CircuitBreakerGuard:
    """Open after ``threshold`` failed jobs in a row for a model; refuses while open.

    ``reset_after_s`` after the last failure the breaker is half-open: one trial job may start.
    If it fails the count grows and the breaker opens again; a success resets the count.
    """

    threshold: int = 3
    reset_after_s: float = 86400.0
    name: str = "circuit_breaker"

    def check(self, proposal: Proposal, ctx: GuardContext, now: float) -> GuardVerdict:
        failures = ctx.consecutive_failures(proposal.model)
        if failures < self.threshold:
            return GuardVerdict(True, self.name, f"{failures} failed job(s) in a row for {proposal.model}")
        last = ctx.last_failure_at(proposal.model)
        waited = None if last is None else now - last
        if waited is not None and waited >= self.reset_after_s:
            return GuardVerdict(
                True,
                self.name,
                f"breaker half-open: {failures} failures in a row, the last {human(waited)} ago",
            )
        remaining = self.reset_after_s if waited is None else self.reset_after_s - waited
        return GuardVerdict(
            False,
            self.name,
            f"breaker open: {failures} failed jobs in a row for {proposal.model}; a trial is allowed in {human(remaining)}",
        )
