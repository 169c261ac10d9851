"""Daily budget: at most ``budget`` jobs per model in a rolling window (24 hours by default)."""

from __future__ import annotations

from dataclasses import dataclass

from rules.guards.guard import GuardContext, GuardVerdict, human
from rules.proposal import Proposal


@dataclass(frozen=True)
class DailyBudgetGuard:
    """Refuses once ``budget`` jobs started for the model within the last ``window_s`` seconds.

    The window rolls (it is not a calendar day), so the budget frees up one job at a time.
    """

    budget: int = 5
    window_s: float = 86400.0
    name: str = "budget"

    def check(self, proposal: Proposal, ctx: GuardContext, now: float) -> GuardVerdict:
        used = ctx.jobs_started_since(proposal.model, now - self.window_s)
        text = f"{used} of {self.budget} jobs used for {proposal.model} in the last {human(self.window_s)}"
        return GuardVerdict(used < self.budget, self.name, text)
