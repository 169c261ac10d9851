"""Promotion policies: constraints checked when they load, an objective, and an approval mode."""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reoptimize.gate.candidate_metrics import CandidateMetrics

DEFAULT_CONSTRAINTS = (
    "holdout_accuracy >= champion.holdout_accuracy - 0.02",
    "latency_p95_seconds <= 2.0 * champion.latency_p95_seconds + 0.001",
)
FUNCTIONS = {"abs": abs, "min": min, "max": max}


class PolicyError(ValueError):
    """A promotion policy that cannot be used; the message names the field and value."""


def references(tree: ast.AST, where: str) -> list[str]:
    """The metric references of a parsed constraint (``name`` or ``champion.name``), checked."""
    known = set(CandidateMetrics.names())
    refs: list[str] = []
    attribute_bases = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if (
                not (isinstance(node.value, ast.Name) and node.value.id == "champion")
                or node.attr not in known
            ):
                raise PolicyError(
                    f"{where}: {ast.unparse(node)!r} is not champion.<metric> with a known metric"
                )
            refs.append(f"champion.{node.attr}")
        elif isinstance(node, ast.Name) and id(node) not in attribute_bases:
            if id(node) in called:
                if node.id not in FUNCTIONS:
                    raise PolicyError(
                        f"{where}: function {node.id!r} is not allowed; use {', '.join(FUNCTIONS)}"
                    )
            elif node.id not in known:
                raise PolicyError(f"{where}: unknown metric {node.id!r}; known: {', '.join(sorted(known))}")
            else:
                refs.append(node.id)
    return list(dict.fromkeys(refs))


def parse_constraint(expression: str, where: str = "constraint") -> ast.Expression:
    if not isinstance(expression, str) or not expression.strip():
        raise PolicyError(f"{where}: got {expression!r}; expected an expression such as 'f1 >= champion.f1'")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise PolicyError(f"{where}: {expression!r} is not a valid expression ({exc.msg})") from None
    if not isinstance(tree.body, ast.Compare | ast.BoolOp) and not (
        isinstance(tree.body, ast.UnaryOp) and isinstance(tree.body.op, ast.Not)
    ):
        raise PolicyError(f"{where}: {expression!r} must be a comparison such as 'a <= champion.a'")
    references(tree, where)
    return tree


@dataclass(frozen=True)
class Policy:
    """When a candidate may replace the champion; mirrors ``monitor.config.PolicyConfig``."""

    constraints: tuple[str, ...] = DEFAULT_CONSTRAINTS
    objective: str = "recent_accuracy"
    min_improvement: float = 0.01
    approval: str = "auto"
    # With ``relative``, the objective's gain is a fraction of the champion's value
    # (0.05 = 5% better), which suits latency, size and cost whose scale varies by model.
    relative: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, where: str = "policy") -> Policy:
        data = dict(data or {})
        unknown = set(data) - {"constraints", "objective", "min_improvement", "approval", "relative"}
        if unknown:
            raise PolicyError(f"{where}: unknown field(s) {sorted(unknown)}")
        if not isinstance(data.get("objective", "recent_accuracy"), str):
            raise PolicyError(f"{where}.objective: got {data['objective']!r}; expected a metric name")
        constraints = data.get("constraints", DEFAULT_CONSTRAINTS)
        if isinstance(constraints, str):
            constraints = (constraints,)
        policy = cls(**{**data, "constraints": tuple(constraints)})
        for i, text in enumerate(policy.constraints):
            parse_constraint(text, f"{where}.constraints[{i}]")
        if policy.metric not in CandidateMetrics.names():
            raise PolicyError(
                f"{where}.objective: unknown metric {policy.objective!r}; a leading '-' minimizes"
            )
        gain = policy.min_improvement
        if isinstance(gain, bool) or not isinstance(gain, int | float) or not math.isfinite(gain):
            raise PolicyError(f"{where}.min_improvement: got {gain!r}; expected a number")
        if not isinstance(policy.relative, bool):
            raise PolicyError(f"{where}.relative: got {policy.relative!r}; expected true or false")
        if policy.approval not in ("auto", "manual"):
            raise PolicyError(f"{where}.approval: got {policy.approval!r}; expected 'auto' or 'manual'")
        return policy

    def to_json(self) -> dict[str, Any]:
        return {
            "constraints": list(self.constraints),
            "objective": self.objective,
            "min_improvement": self.min_improvement,
            "approval": self.approval,
            "relative": self.relative,
        }

    @property
    def metric(self) -> str:
        return self.objective.removeprefix("-")

    @property
    def maximize(self) -> bool:
        return not self.objective.startswith("-")
