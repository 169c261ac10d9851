"""Inhibition: no new job for a model that already has a job or a post-promotion watch running."""

from __future__ import annotations

from dataclasses import dataclass

from rules.guards.guard import GuardContext, GuardVerdict
from rules.proposal import Proposal


@dataclass(frozen=True)
class InhibitionGuard:
    """Refuses while a job or a post-promotion watch is active for the proposal's model."""

    name: str = "inhibition"

    def check(self, proposal: Proposal, ctx: GuardContext, now: float) -> GuardVerdict:
        running = ctx.running_jobs(proposal.model)
        if running:
            noun = "job is" if running == 1 else "jobs are"
            return GuardVerdict(False, self.name, f"{running} {noun} already running for {proposal.model}")
        if ctx.watching(proposal.model):
            return GuardVerdict(False, self.name, f"a post-promotion watch is running for {proposal.model}")
        return GuardVerdict(True, self.name, f"no job or post-promotion watch running for {proposal.model}")
