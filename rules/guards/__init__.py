"""Guards: the stages every proposed action passes before a job may start.

Each guard is one small class with a ``name`` and ``check(proposal, ctx, now)``; the monitor
supplies a :class:`GuardContext` over its state store. :func:`run_guards` stops at the first refusal.

May import ``rules.proposal`` and nothing outside ``rules``.
"""

from rules.guards.blast_radius import BlastRadiusGuard
from rules.guards.budget import DailyBudgetGuard
from rules.guards.circuit_breaker import CircuitBreakerGuard
from rules.guards.concurrency import ConcurrencyGuard
from rules.guards.cooldown import CooldownGuard
from rules.guards.guard import Guard, GuardContext, GuardOutcome, GuardSettings, GuardVerdict
from rules.guards.inhibition import InhibitionGuard
from rules.guards.memory_context import MemoryGuardContext
from rules.guards.pipeline import default_guards, run_guards

__all__ = [
    "BlastRadiusGuard",
    "CircuitBreakerGuard",
    "ConcurrencyGuard",
    "CooldownGuard",
    "DailyBudgetGuard",
    "Guard",
    "GuardContext",
    "GuardOutcome",
    "GuardSettings",
    "GuardVerdict",
    "InhibitionGuard",
    "MemoryGuardContext",
    "default_guards",
    "run_guards",
]
