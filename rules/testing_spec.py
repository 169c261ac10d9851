"""The schema of rule test files (see :mod:`rules.testing`) and the checks made before running them."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from rules.durations import format_duration, parse_duration
from rules.loader import RuleError, RuleProblem, RuleSet
from rules.series_notation import parse_series
from rules.vocabulary import NAMES

Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Expected(_Strict):
    rule: str
    model: str


class InputSeries(_Strict):
    model: str
    measurement: str
    values: Annotated[tuple[float | None, ...], BeforeValidator(parse_series)]


class AlertRuleTest(_Strict):
    eval_time: Duration
    exp_firing: tuple[Expected, ...] = ()
    exp_pending: tuple[Expected, ...] | None = None


class RuleTestCase(_Strict):
    name: str | None = None
    interval: Duration | None = None
    input_series: tuple[InputSeries, ...] = ()
    alert_rule_test: tuple[AlertRuleTest, ...] = Field(min_length=1)


class RuleTestFile(_Strict):
    rule_files: tuple[str, ...] = Field(min_length=1)
    evaluation_interval: Duration = 60.0
    models: dict[str, dict[str, str]] = Field(default_factory=dict)
    tests: tuple[RuleTestCase, ...] = Field(min_length=1)


def read_spec(raw: Any, source: str) -> RuleTestFile:
    """Validate parsed YAML as a test file; every problem becomes a :class:`RuleProblem`."""
    try:
        return RuleTestFile.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        raise RuleError([_problem(source, err) for err in exc.errors()]) from None


def check_names(spec: RuleTestFile, ruleset: RuleSet, source: str) -> None:
    """Refuse unknown measurements, unknown rules, models without series and off-grid eval times."""
    problems: list[RuleProblem] = []
    step = spec.evaluation_interval
    if step <= 0:
        problems.append(
            RuleProblem(source, "evaluation_interval", "expected a positive duration such as '1m'")
        )
    for i, case in enumerate(spec.tests):
        models = {s.model for s in case.input_series}
        for j, s in enumerate(case.input_series):
            if s.measurement not in NAMES:
                where = f"tests[{i}].input_series[{j}].measurement"
                problems.append(RuleProblem(source, where, f"got {s.measurement!r}; not a known measurement"))
        for j, check in enumerate(case.alert_rule_test):
            where = f"tests[{i}].alert_rule_test[{j}]"
            if step > 0 and not math.isclose(
                check.eval_time / step, round(check.eval_time / step), abs_tol=1e-9
            ):
                problems.append(RuleProblem(source, f"{where}.eval_time", _off_grid(check.eval_time, step)))
            for e in (*check.exp_firing, *(check.exp_pending or ())):
                if ruleset.get(e.rule) is None:
                    problems.append(RuleProblem(source, where, f"no rule named {e.rule!r} in the rule files"))
                if e.model not in models:
                    problems.append(
                        RuleProblem(source, where, f"model {e.model!r} has no input series in this test")
                    )
    if problems:
        raise RuleError(problems)


def _off_grid(eval_time: float, step: float) -> str:
    return f"got {format_duration(eval_time)}; expected a multiple of evaluation_interval ({format_duration(step)})"


def _problem(source: str, err: Any) -> RuleProblem:
    where = (
        "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".") or "(top level)"
    )
    cause = (err.get("ctx") or {}).get("error")
    message = str(cause) if isinstance(cause, ValueError) else err["msg"]
    if err["type"] == "missing":
        message = "required field is missing"
    elif err["type"] == "extra_forbidden":
        message = "unknown field"
    elif err["type"] == "too_short":
        message = "expected at least one entry"
    return RuleProblem(source, where, message.replace("Input should be", "expected"))
