"""Unit tests for rule files, in the spirit of ``promtool test rules``.

A test file::

    rule_files: [default_rules.yaml]      # relative to the test file
    evaluation_interval: 1m
    models: {digits: {team: vision}}      # optional model labels, for rule selectors
    tests:
      - name: drift fires after 5m
        interval: 1m                      # spacing of input samples (default: evaluation_interval)
        input_series:
          - {model: digits, measurement: drift_share, values: "0.1 0.5x10"}
          - {model: digits, measurement: rows, values: "1000x11"}
        alert_rule_test:
          - eval_time: 6m
            exp_firing: [{rule: feature-drift, model: digits}]
          - eval_time: 2m
            exp_firing: []                # nothing fires
            exp_pending: [{rule: feature-drift, model: digits}]   # optional

Sample ``i`` of a series is the measurement at time ``i * interval`` from 0; ``_`` and times
after the series ends are unknown. Rules are evaluated for every model with input series at
0, ``evaluation_interval``, ... up to the last ``eval_time``, which must lie on that grid.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rules.durations import format_duration
from rules.engine import RuleEngine
from rules.loader import RuleError, RuleProblem, RuleSet, load_rule_files, read_yaml
from rules.pipelines import PipelineCatalog
from rules.state_machine import RuleState
from rules.testing_spec import AlertRuleTest, RuleTestCase, RuleTestFile, check_names, read_spec

Pair = tuple[str, str]  # (rule, model)


@dataclass(frozen=True)
class CheckResult:
    """One ``alert_rule_test`` entry: what was expected at ``eval_time`` and what the rules did."""

    test: str
    eval_time: float
    expected_firing: frozenset[Pair]
    got_firing: frozenset[Pair]
    expected_pending: frozenset[Pair] | None
    got_pending: frozenset[Pair]
    states: Mapping[Pair, RuleState]

    @property
    def passed(self) -> bool:
        pending_ok = self.expected_pending is None or self.expected_pending == self.got_pending
        return self.expected_firing == self.got_firing and pending_ok

    def diff(self) -> str:
        """A readable account of a failed check: each missing and each unexpected (rule, model)."""
        lines = [f"FAIL {self.test} at eval_time {format_duration(self.eval_time)}:"]
        for label, expected, got in (
            ("firing", self.expected_firing, self.got_firing),
            ("pending", self.expected_pending, self.got_pending),
        ):
            if expected is None or expected == got:
                continue
            lines.append(f"    expected {label}: {_pairs(expected)}")
            lines.append(f"    got {label}:      {_pairs(got)}")
            for pair in sorted(expected - got):
                lines.append(
                    f"    - {pair[0]} for {pair[1]} (expected {label}; it is {self._describe(pair)})"
                )
            for pair in sorted(got - expected):
                lines.append(f"    + {pair[0]} for {pair[1]} ({label}, not expected)")
        return "\n".join(lines)

    def _describe(self, pair: Pair) -> str:
        state = self.states.get(pair, RuleState())
        value = {True: "true", False: "false", None: "unknown"}[state.last_value]
        return f"{state.state}, last value {value}"


@dataclass(frozen=True)
class TestReport:
    """The results of one test file."""

    __test__ = False  # not a pytest class

    source: str
    results: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    def format(self) -> str:
        failed = self.failures
        lines = [f"{self.source}: {len(self.results) - len(failed)} of {len(self.results)} checks passed"]
        lines.extend(r.diff() for r in failed)
        return "\n".join(lines)


def run_rule_tests(path: str | Path, catalog: PipelineCatalog | None = None) -> TestReport:
    """Run the rule unit tests in ``path``. A malformed test or rule file raises :class:`RuleError`;
    ``catalog`` checks the rules' pipelines (see :func:`rules.loader.parse_rules`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise RuleError([RuleProblem(str(path), "(file)", f"cannot read the file: {reason}")]) from None
    raw = read_yaml(text, str(path))
    spec = read_spec(raw, str(path))
    ruleset = load_rule_files([path.parent / f for f in spec.rule_files], catalog=catalog)
    check_names(spec, ruleset, str(path))
    results: list[CheckResult] = []
    for index, case in enumerate(spec.tests):
        results.extend(_run_case(spec, ruleset, case, index))
    return TestReport(str(path), tuple(results))


def _run_case(spec: RuleTestFile, ruleset: RuleSet, case: RuleTestCase, index: int) -> list[CheckResult]:
    title = f"tests[{index}]" + (f" {case.name!r}" if case.name else "")
    step, spacing = spec.evaluation_interval, case.interval or spec.evaluation_interval
    series: dict[str, dict[str, tuple[float | None, ...]]] = {}
    for s in case.input_series:
        series.setdefault(s.model, {})[s.measurement] = s.values
    engine = RuleEngine(ruleset)
    states: dict[str, dict[str, RuleState]] = {model: {} for model in series}
    wanted = {round(c.eval_time / step): c for c in case.alert_rule_test}
    results: dict[int, CheckResult] = {}
    for k in range(max(wanted) + 1):
        now = k * step
        for model, by_name in series.items():
            values = {name: _sample(samples, now, spacing) for name, samples in by_name.items()}
            states[model] = engine.evaluate(
                model, spec.models.get(model, {}), values, states[model], now
            ).states
        if k in wanted:
            results[k] = _check(title, wanted[k], states)
    return [results[k] for k in sorted(wanted)]


def _check(title: str, check: AlertRuleTest, states: dict[str, dict[str, RuleState]]) -> CheckResult:
    flat = {(rule, model): st for model, by_rule in states.items() for rule, st in by_rule.items()}
    return CheckResult(
        test=title,
        eval_time=check.eval_time,
        expected_firing=frozenset((e.rule, e.model) for e in check.exp_firing),
        got_firing=frozenset(p for p, st in flat.items() if st.state == "firing"),
        expected_pending=None
        if check.exp_pending is None
        else frozenset((e.rule, e.model) for e in check.exp_pending),
        got_pending=frozenset(p for p, st in flat.items() if st.state == "pending"),
        states=flat,
    )


def _sample(samples: tuple[float | None, ...], now: float, spacing: float) -> float | None:
    index = math.floor(now / spacing + 1e-9)
    return samples[index] if index < len(samples) else None


def _pairs(pairs: frozenset[Pair]) -> str:
    return ", ".join(f"{rule}/{model}" for rule, model in sorted(pairs)) or "(none)"
