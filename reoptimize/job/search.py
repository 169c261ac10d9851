"""Building candidates from plans within a time budget, climbing each ladder while it pays.

``build(plan, remaining_seconds)`` makes one candidate; ``probe(candidate)`` measures it
against the champion and returns the gate verdict (only used when there is more than one
plan). A ladder stops at the first rung that breaks the policy, or that gains less than
``min_gain`` over the best rung so far: diminishing returns. Nothing is built once the time
budget is spent and at least one candidate exists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reoptimize.gate.verdict import GateVerdict
from reoptimize.job.plans import Plan
from reoptimize.steps.step import Candidate
from reoptimize.train.fit import TrainingCancelled


@dataclass(frozen=True)
class Built:
    """One plan's outcome: a candidate, or why there is none."""

    name: str
    plan: Plan
    candidate: Candidate | None = None
    step_infos: tuple[dict[str, Any], ...] = ()
    veto: str | None = None
    seconds: float = 0.0
    status: str = "built"  # built | failed | skipped
    note: str = ""  # search-time facts: the probe's verdict, why a ladder stopped
    probe: GateVerdict | None = None


def _feasible(verdict: GateVerdict, veto: str | None) -> bool:
    return veto is None and all(c.ok for c in verdict.constraints)


def search(
    plans: Sequence[Plan],
    build: Callable[[Plan, float], tuple[Candidate, tuple[dict[str, Any], ...], str | None]],
    probe: Callable[[Candidate], GateVerdict] | None,
    *,
    min_gain: float,
    budget_seconds: float,
    clock: Callable[[], float],
    progress: Callable[[dict[str, Any]], None],
    tolerate_errors: bool,
) -> list[Built]:
    started = clock()
    out: list[Built] = []
    stopped: dict[str, str] = {}  # ladder -> why it stopped
    best: dict[str, float] = {}  # ladder -> best objective gain so far
    for i, plan in enumerate(plans, start=1):
        name = f"c{i}"
        elapsed = clock() - started
        if plan.ladder in stopped:
            out.append(Built(name, plan, status="skipped", note=stopped[plan.ladder]))
            continue
        if elapsed >= budget_seconds and any(b.candidate is not None for b in out):
            out.append(Built(name, plan, status="skipped", note=f"time budget of {budget_seconds:g}s used"))
            continue
        progress({"stage": "candidate", "candidate": i, "of": len(plans), "plan": plan.name})
        begin = clock()
        try:
            candidate, infos, veto = build(plan, max(1.0, budget_seconds - elapsed))
        except Exception as exc:  # one plan that does not fit the model must not end the search
            if isinstance(exc, TrainingCancelled) or not tolerate_errors:
                raise
            note = f"{type(exc).__name__}: {exc}"
            out.append(Built(name, plan, status="failed", note=note, seconds=clock() - begin))
            continue
        built = Built(name, plan, candidate, infos, veto, clock() - begin)
        if probe is not None and len(plans) > 1:
            verdict = probe(candidate)
            built = _climb(built, verdict, stopped, best, min_gain)
        out.append(built)
    return out


def _climb(
    built: Built, verdict: GateVerdict, stopped: dict[str, str], best: dict[str, float], min_gain: float
) -> Built:
    """Record the probe and decide whether the plan's ladder goes on."""
    gain = verdict.objective_gain
    shown = "not measured" if gain is None else (f"{gain:+.1%}" if verdict.relative else f"{gain:+.4g}")
    note = f"probe: objective gain {shown}"
    ladder = built.plan.ladder
    if not _feasible(verdict, built.veto):
        # Infeasible: a constraint failed, or else the step vetoed the candidate.
        failed = [c.expression for c in verdict.constraints if not c.ok]
        if not failed and built.veto is not None:
            failed = [built.veto]
        note += f"; breaks {'; '.join(failed)}"
        if ladder is not None:
            stopped[ladder] = (
                f"ladder {ladder} stopped: {built.plan.name} broke the policy, so stronger rungs would too"
            )
    elif gain is not None and ladder is not None:
        previous = best.get(ladder)
        if previous is not None and gain - previous < min_gain:
            stopped[ladder] = (
                f"ladder {ladder} stopped: {built.plan.name} gained {_fmt(gain - previous, verdict)} over the "
                f"previous best rung, below the minimum {_fmt(min_gain, verdict)} (diminishing returns)"
            )
            note += "; diminishing returns"
        best[ladder] = max(gain, previous if previous is not None else gain)
    return replace(built, probe=verdict, note=note)


def _fmt(value: float, verdict: GateVerdict) -> str:
    return f"{value:+.1%}" if verdict.relative else f"{value:+.4g}"
