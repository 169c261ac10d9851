"""Cooldown: at most one action per (rule, model) within the rule's cooldown."""

from __future__ import annotations

from dataclasses import dataclass

from rules.guards.guard import GuardContext, GuardVerdict, human
from rules.proposal import Proposal


@dataclass(frozen=True)
class CooldownGuard:
    """Refuses while ``rule`` acted on ``model`` less than the cooldown ago (the proposal's, else the default)."""

    default_cooldown_s: float = 3600.0
    name: str = "cooldown"

    def check(self, proposal: Proposal, ctx: GuardContext, now: float) -> GuardVerdict:
        cooldown = self.default_cooldown_s if proposal.cooldown_s is None else proposal.cooldown_s
        last = ctx.last_action_at(proposal.rule, proposal.model)
        if last is None:
            return GuardVerdict(
                True, self.name, f"rule {proposal.rule} has not acted on {proposal.model} before"
            )
        ago = now - last
        if ago < cooldown:
            return GuardVerdict(
                False,
                self.name,
                f"rule {proposal.rule} acted on {proposal.model} {human(ago)} ago; cooldown {human(cooldown)}, "
                f"next action allowed in {human(cooldown - ago)}",
            )
        return GuardVerdict(
            True,
            self.name,
            f"rule {proposal.rule} last acted {human(ago)} ago; cooldown {human(cooldown)} has passed",
        )
