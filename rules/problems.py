"""Problems in rule files: each names the file, where (rule, field) and what is wrong."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from rules.expression import ExpressionError
from rules.rule_schema import FieldProblem, Rule

_RULE_FIELDS = tuple(
    (info.alias or name) for name, info in Rule.model_fields.items()
)  # as written in files ("for", not "for_s")


@dataclass(frozen=True)
class RuleProblem:
    """One problem in a rule file. ``column`` and ``expression`` are set for expression errors."""

    source: str
    where: str
    message: str
    expression: str | None = None
    column: int | None = None

    def __str__(self) -> str:
        return f"{self.source}: {self.where}: {self.message}"


class RuleError(Exception):
    """Rule files that cannot be used; ``problems`` holds every problem found, not only the first."""

    def __init__(self, problems: list[RuleProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def describe_rule_errors(
    exc: ValidationError, item: dict[str, Any], source: str, where: str
) -> list[RuleProblem]:
    """One problem per validation error of the rule ``item``, located under ``where``."""
    problems = []
    for err in exc.errors():
        loc = tuple(str(p) if not isinstance(p, int) else p for p in err["loc"])
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldProblem):
            loc = (*loc, cause.field)
        path = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
        if isinstance(cause, ExpressionError):
            message = f"column {cause.column}: {cause.problem}" if cause.column else cause.problem
            problems.append(RuleProblem(source, path, message, cause.expression, cause.column))
            continue
        problems.append(RuleProblem(source, path, _message(err, item, loc, cause)))
    return problems


def _message(err: ErrorDetails, item: dict[str, Any], loc: tuple[Any, ...], cause: Any) -> str:
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] == "string_pattern_mismatch" and loc == ("name",):
        return f"got {item.get('name')!r}; expected letters, digits, '.', '_', ':' or '-', starting with a letter or digit, at most 63 characters"
    if err["type"] == "extra_forbidden":
        fields = _RULE_FIELDS if len(loc) == 1 else ("pipeline", "with", "alertname", "labels")
        close = difflib.get_close_matches(str(loc[-1]), fields, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown field{hint}"
    text = str(cause) if isinstance(cause, ValueError) else err["msg"]
    text = text.removeprefix("Value error, ").replace("Input should be", "expected")
    text = text[:1].lower() + text[1:]
    found, value = _lookup(item, loc)
    return f"got {value!r}; {text}" if found and not isinstance(cause, FieldProblem) else text


def _lookup(data: Any, loc: tuple[Any, ...]) -> tuple[bool, Any]:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return False, None
    return True, data
