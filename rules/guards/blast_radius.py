"""Blast radius: at most ``cap`` distinct models acted on within a window."""

from __future__ import annotations

from dataclasses import dataclass

from rules.guards.guard import GuardContext, GuardVerdict, human
from rules.proposal import Proposal


@dataclass(frozen=True)
class BlastRadiusGuard:
    """Refuses a model not yet acted on in the window once ``cap`` other models have been.

    A fleet-wide cause (a bad upstream feed) would otherwise retrain every model at once.
    """

    cap: int = 10
    window_s: float = 3600.0
    name: str = "blast_radius"

    def check(self, proposal: Proposal, ctx: GuardContext, now: float) -> GuardVerdict:
        acted = ctx.models_acted_since(now - self.window_s)
        window = human(self.window_s)
        if proposal.model in acted:
            return GuardVerdict(
                True, self.name, f"{proposal.model} is already among the models acted on in {window}"
            )
        if len(acted) >= self.cap:
            return GuardVerdict(
                False, self.name, f"{len(acted)} models acted on in the last {window}; the cap is {self.cap}"
            )
        return GuardVerdict(
            True, self.name, f"{len(acted)} models acted on in the last {window}; the cap is {self.cap}"
        )
