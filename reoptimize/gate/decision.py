"""The promotion gate's decision: a policy of constraints and an objective applied to two measurements.

Constraints are expressions over the candidate's metrics (bare names) and the champion's
(``champion.<name>``), such as ``holdout_accuracy >= champion.holdout_accuracy - 0.02``.
They are checked when the policy loads (see :mod:`reoptimize.gate.policy`) and evaluated by
``simpleeval``, never ``eval``. A constraint that reads a metric that
was not measured (``None``) fails: the gate fails closed. A candidate passes only when
every constraint holds and the objective improves by at least ``min_improvement``; no gain
on the objective makes up for a failed constraint.

An accuracy objective is a share of a few labelled rows, so a gain must also exceed what
chance gives on that many rows (:func:`noise_floor`): one more row right out of 90 is not an
improvement, and labels that are partly noise must not promote a model by luck.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from reoptimize.gate.candidate_metrics import CandidateMetrics
from reoptimize.gate.policy import FUNCTIONS, Policy, PolicyError, parse_constraint, references
from reoptimize.gate.verdict import ConstraintResult, GateVerdict, format_number

__all__ = ["Policy", "PolicyError", "check_constraint", "decide", "noise_floor", "objective_gain"]


def check_constraint(
    expression: str, candidate: CandidateMetrics, champion: CandidateMetrics
) -> ConstraintResult:
    """Evaluate one constraint; a ``None`` input or an evaluation error makes it fail."""
    from simpleeval import SimpleEval

    tree = parse_constraint(expression)
    refs = references(tree, "constraint")
    values = {
        r: (champion if r.startswith("champion.") else candidate).get(r.removeprefix("champion."))
        for r in refs
    }
    unmeasured = [r for r, v in values.items() if v is None]
    if unmeasured:
        return ConstraintResult(expression, values, False, f"not measured: {', '.join(unmeasured)}")
    filled = ast.unparse(_Fill(values).visit(parse_constraint(expression)))
    evaluator = SimpleEval(names={**candidate.to_json(), "champion": champion.to_json()}, functions=FUNCTIONS)
    try:
        result = evaluator.eval(expression.strip())
    except Exception as exc:  # division by zero, overflow, and simpleeval's own errors
        return ConstraintResult(expression, values, False, f"{filled} could not be evaluated ({exc})")
    if not isinstance(result, bool):
        return ConstraintResult(expression, values, False, f"{filled} gave {result!r}, not true/false")
    return ConstraintResult(expression, values, result, filled)


class _Fill(ast.NodeTransformer):
    """Replace metric references by their values, for the human-readable record."""

    def __init__(self, values: Mapping[str, Any]):
        self.values = values

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        return ast.Name(id=format_number(self.values.get(f"champion.{node.attr}")))

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.Name(id=format_number(self.values[node.id])) if node.id in self.values else node


# One-sided 95%: a gain smaller than this many standard errors may be chance.
NOISE_Z = 1.645


def noise_floor(policy: Policy, candidate: CandidateMetrics, champion: CandidateMetrics) -> float | None:
    """The gain an accuracy objective needs to be more than chance, or None for other objectives
    and for policies that ask for no improvement (``min_improvement <= 0``).

    Both accuracies are shares of the same ``n`` rows (``recent_rows`` for ``recent_*``,
    ``holdout_rows`` for ``holdout_*``); their difference is treated as that of two independent
    shares, ``z * sqrt((p1 (1 - p1) + p2 (1 - p2)) / n)``, which errs on the side of keeping the
    champion (the two models' errors are correlated, so the true spread is smaller).
    """
    metric = policy.metric
    if not metric.endswith("accuracy") or policy.relative or not policy.maximize:
        return None
    if policy.min_improvement <= 0:  # the policy asks for no gain (a non-accuracy goal, or a test)
        return None
    rows = {"recent": candidate.recent_rows, "holdout": candidate.holdout_rows}.get(metric.split("_")[0])
    cand, champ = candidate.get(metric), champion.get(metric)
    if not rows or cand is None or champ is None:
        return None
    spread = (cand * (1 - cand) + champ * (1 - champ)) / rows
    # float ** float is typed Any (a negative base gives a complex); this base is >= 0.
    root: float = max(spread, 0.0) ** 0.5
    return NOISE_Z * root


def objective_gain(cand: float, champ: float, policy: Policy) -> float:
    """How much better ``cand`` is than ``champ`` on the objective (a fraction when ``relative``)."""
    gain = (cand - champ) if policy.maximize else (champ - cand)
    if policy.relative and champ != 0:
        return gain / abs(champ)
    return gain


def decide(
    candidate: CandidateMetrics,
    champion: CandidateMetrics,
    policy: Policy,
    trigger: Mapping[str, Any] | None = None,
    *,
    candidate_label: str = "candidate",
    champion_label: str = "champion",
) -> GateVerdict:
    """Apply ``policy`` to a candidate measured in the same run as the champion."""
    results = tuple(check_constraint(text, candidate, champion) for text in policy.constraints)
    reasons = [f"constraint failed: {r.expression} ({r.detail})" for r in results if not r.ok]
    cand, champ = candidate.get(policy.metric), champion.get(policy.metric)
    gain = None
    if cand is None or champ is None:
        missing = " and ".join(n for n, v in (("candidate", cand), ("champion", champ)) if v is None)
        reasons.append(f"objective {policy.metric} not measured for the {missing}")
    else:
        gain = objective_gain(cand, champ, policy)
        floor = noise_floor(policy, candidate, champion)
        if not gain >= policy.min_improvement:
            shown = f"{gain:+.1%}" if policy.relative else f"{gain:+.4g}"
            minimum = f"{policy.min_improvement:.1%}" if policy.relative else f"{policy.min_improvement:g}"
            reasons.append(f"objective {policy.metric} gain {shown} is below the minimum {minimum}")
        elif floor is not None and not gain >= floor:
            rows = candidate.recent_rows if policy.metric.startswith("recent") else candidate.holdout_rows
            reasons.append(
                f"objective {policy.metric} gain {gain:+.4g} could be chance on {rows} rows "
                f"(at least {floor:.3g} is needed at 95% confidence)"
            )
    return GateVerdict(
        passed=not reasons,
        objective=policy.objective,
        candidate_value=cand,
        champion_value=champ,
        objective_gain=gain,
        min_improvement=policy.min_improvement,
        constraints=results,
        reasons=tuple(reasons),
        approval=policy.approval,
        relative=policy.relative,
        candidate_label=candidate_label,
        champion_label=champion_label,
        trigger=dict(trigger or {}),
    )
