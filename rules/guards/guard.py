"""The guard stage's contracts: what a guard may ask about the world, and what it answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from rules.proposal import Proposal


@runtime_checkable
class GuardContext(Protocol):
    """What guards may ask about jobs and models. The monitor implements it over its state store.

    "Job" means a re-optimization job started by a rule action (``notify`` starts none).
    Times are Unix seconds.
    """

    def running_jobs(self, model: str) -> int:
        """Jobs queued or running for ``model``."""
        ...

    def running_jobs_total(self) -> int:
        """Jobs queued or running for all models."""
        ...

    def jobs_started_since(self, model: str, since: float) -> int:
        """Jobs started for ``model`` at or after ``since``, whatever their outcome."""
        ...

    def last_action_at(self, rule: str, model: str) -> float | None:
        """When ``rule`` last started a job for ``model``, or None if never."""
        ...

    def models_acted_since(self, since: float) -> set[str]:
        """Models for which any job started at or after ``since``."""
        ...

    def consecutive_failures(self, model: str) -> int:
        """Jobs of ``model`` that failed (or timed out) since its last successful job or the last
        time a person reset its circuit breaker, whichever came later."""
        ...

    def last_failure_at(self, model: str) -> float | None:
        """When the last failed job of ``model`` ended, or None."""
        ...

    def watching(self, model: str) -> bool:
        """Whether a post-promotion watch is running for ``model``."""
        ...


@dataclass(frozen=True)
class GuardVerdict:
    """One guard's answer; ``reason`` is written for the decision log."""

    allowed: bool
    guard: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "guard": self.guard, "reason": self.reason}


class Guard(Protocol):
    """One stage in front of every action: it allows the proposal or says why not."""

    # Read-only, so that frozen dataclasses (every guard here) satisfy the protocol.
    @property
    def name(self) -> str: ...

    def check(self, proposal: Proposal, ctx: GuardContext, now: float) -> GuardVerdict: ...


@dataclass(frozen=True)
class GuardOutcome:
    """Every verdict given to a proposal, in order; the last one refused it unless ``allowed``.

    In dry-run mode the caller records an allowed outcome as "would have run" and starts nothing.
    """

    proposal: Proposal
    verdicts: tuple[GuardVerdict, ...]

    @property
    def allowed(self) -> bool:
        return all(v.allowed for v in self.verdicts)

    @property
    def refused_by(self) -> GuardVerdict | None:
        return next((v for v in self.verdicts if not v.allowed), None)

    def to_json(self, dry_run: bool = False) -> dict[str, Any]:
        return {
            "proposal": self.proposal.to_json(),
            "allowed": self.allowed,
            "dry_run": dry_run,
            "would_run": self.allowed and dry_run,
            "verdicts": [v.to_json() for v in self.verdicts],
        }


@dataclass(frozen=True)
class GuardSettings:
    """Limits for the default guards. Windows are in seconds.

    ``default_cooldown_s`` applies only to proposals that carry no cooldown of their own.
    ``breaker_reset_s`` None keeps an open circuit breaker open until a person resets it;
    a number lets one trial job through that long after the last failure.
    """

    concurrency: int = 1
    daily_budget: int = 5
    budget_window_s: float = 86400.0
    blast_radius: int = 10
    blast_radius_window_s: float = 3600.0
    breaker_threshold: int = 3
    breaker_reset_s: float | None = None
    default_cooldown_s: float = 3600.0

    def __post_init__(self) -> None:
        for name in ("concurrency", "daily_budget", "blast_radius", "breaker_threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"guard setting {name}: got {value!r}; expected a whole number >= 1")
        for name in ("budget_window_s", "blast_radius_window_s", "breaker_reset_s", "default_cooldown_s"):
            value = getattr(self, name)
            if value is None and name == "breaker_reset_s":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"guard setting {name}: got {value!r}; expected seconds >= 0")


def human(seconds: float) -> str:
    """A short duration for messages: ``45s``, ``12m``, ``1h30m``, ``2d3h``."""
    total = max(0, round(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    text = "".join(f"{n}{unit}" for n, unit in parts if n)
    return text or "0s"
