"""Circuit breaker: stop starting jobs for a model whose jobs keep failing."""

from __future__ import annotations

from dataclasses import dataclass

from rules.guards.guard import GuardContext, GuardVerdict, human
from rules.proposal import Proposal


@dataclass(frozen=True)
class CircuitBreakerGuard:
    """Open after ``threshold`` failed jobs in a row for a model; refuses while open.

    A person closes an open breaker (``modelhealthd breaker reset MODEL``): failures before the
    reset no longer count. With ``reset_after_s`` set, the breaker is also half-open that long
    after the last failure: one trial job may start; if it fails the breaker opens again, and
    a success resets the count.
    """

    threshold: int = 3
    reset_after_s: float | None = None
    name: str = "circuit_breaker"

    def check(self, proposal: Proposal, ctx: GuardContext, now: float) -> GuardVerdict:
        return self.verdict(proposal.model, ctx, now)

    def is_open(self, model: str, ctx: GuardContext, now: float) -> bool:
        """Whether a job for ``model`` would be refused now (half-open counts as closed)."""
        return not self.verdict(model, ctx, now).allowed

    def verdict(self, model: str, ctx: GuardContext, now: float) -> GuardVerdict:
        failures = ctx.consecutive_failures(model)
        if failures < self.threshold:
            return GuardVerdict(True, self.name, f"{failures} failed job(s) in a row for {model}")
        opened = f"breaker open: {failures} failed jobs in a row for {model}"
        if self.reset_after_s is None:
            return GuardVerdict(
                False, self.name, f"{opened}; a person must reset it (modelhealthd breaker reset {model})"
            )
        last = ctx.last_failure_at(model)
        waited = None if last is None else now - last
        if waited is not None and waited >= self.reset_after_s:
            return GuardVerdict(
                True,
                self.name,
                f"breaker half-open: {failures} failures in a row, the last {human(waited)} ago",
            )
        remaining = self.reset_after_s if waited is None else self.reset_after_s - waited
        return GuardVerdict(False, self.name, f"{opened}; a trial is allowed in {human(remaining)}")
