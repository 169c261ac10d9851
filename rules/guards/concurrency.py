"""Global concurrency: at most ``limit`` jobs running across all models."""

from __future__ import annotations

from dataclasses import dataclass

from rules.guards.guard import GuardContext, GuardVerdict
from rules.proposal import Proposal


@dataclass(frozen=True)
class ConcurrencyGuard:
    """Refuses while ``limit`` or more jobs are running in total."""

    limit: int = 1
    name: str = "concurrency"

    def check(self, proposal: Proposal, ctx: GuardContext, now: float) -> GuardVerdict:
        total = ctx.running_jobs_total()
        if total >= self.limit:
            return GuardVerdict(False, self.name, f"{total} job(s) running; the global limit is {self.limit}")
        return GuardVerdict(True, self.name, f"{total} job(s) running; the global limit is {self.limit}")
