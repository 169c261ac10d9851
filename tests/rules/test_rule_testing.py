"""The promtool-style rule test runner, its series notation, and the shipped default-rule tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rules.loader import RuleError
from rules.series_notation import parse_series
from rules.testing import run_rule_tests

DATA = Path(__file__).parent / "data"
DEFAULTS_TEST = Path(__file__).parents[2] / "rules" / "default_rules_test.yaml"


@pytest.mark.parametrize(
    ("text", "samples"),
    [
        ("1 2 3", [1, 2, 3]),
        ("0+1x3", [0, 1, 2, 3]),
        ("5-2x2", [5, 3, 1]),
        ("-1+0.5x2", [-1, -0.5, 0]),
        ("1e-3+1e-3x1", [0.001, 0.002]),
        ("7x2", [7, 7, 7]),
        ("_", [None]),
        ("_x3", [None, None, None]),
        ("1 _ 2", [1, None, 2]),
        (4, [4]),
    ],
)
def test_series_notation(text, samples):
    assert parse_series(text) == pytest.approx(samples)


@pytest.mark.parametrize("text", ["", "abc", "1+x3", "1+2", "nan", "x3", True])
def test_series_notation_errors(text):
    with pytest.raises(ValueError):
        parse_series(text)


def test_passing_file():
    report = run_rule_tests(DATA / "passing_test.yaml")
    assert report.passed and len(report.results) == 6 and report.failures == ()
    assert report.format() == f"{DATA / 'passing_test.yaml'}: 6 of 6 checks passed"


def test_failing_file_gives_a_readable_diff():
    report = run_rule_tests(DATA / "failing_test.yaml")
    assert not report.passed and len(report.failures) == 2
    text = report.format()
    assert "0 of 2 checks passed" in text
    assert "FAIL tests[0] 'wrongly expects drift to fire at once' at eval_time 1m:" in text
    assert "    - drift for digits (expected firing; it is pending, last value true)" in text
    assert "    + drift for digits (firing, not expected)" in text


def test_default_rules_pass_their_tests():
    report = run_rule_tests(DEFAULTS_TEST)
    assert report.passed, report.format()
    assert len(report.results) >= 10


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "rules.yaml").write_text((DATA / "rules.yaml").read_text())
    path = tmp_path / "t.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("rule_files: [rules.yaml]\ntests: []", "tests: expected at least one entry"),
        ("tests: [{alert_rule_test: [{eval_time: 1m}]}]", "rule_files: required field is missing"),
        (
            """
            rule_files: [rules.yaml]
            tests:
              - input_series: [{model: m, measurement: rows, values: "1 two"}]
                alert_rule_test: [{eval_time: 1m}]
            """,
            "tests[0].input_series[0].values: cannot read 'two'",
        ),
        (
            """
            rule_files: [rules.yaml]
            tests:
              - input_series: [{model: m, measurement: rowz, values: "1"}]
                alert_rule_test: [{eval_time: 1m}]
            """,
            "tests[0].input_series[0].measurement: got 'rowz'",
        ),
        (
            """
            rule_files: [rules.yaml]
            tests:
              - input_series: [{model: m, measurement: rows, values: "1"}]
                alert_rule_test: [{eval_time: 90s}]
            """,
            "tests[0].alert_rule_test[0].eval_time: got 90s; expected a multiple of evaluation_interval (1m)",
        ),
        (
            """
            rule_files: [rules.yaml]
            tests:
              - input_series: [{model: m, measurement: rows, values: "1"}]
                alert_rule_test: [{eval_time: 1m, exp_firing: [{rule: nope, model: m}]}]
            """,
            "no rule named 'nope'",
        ),
        (
            """
            rule_files: [rules.yaml]
            tests:
              - input_series: [{model: m, measurement: rows, values: "1"}]
                alert_rule_test: [{eval_time: 1m, exp_firing: [{rule: drift, model: other}]}]
            """,
            "model 'other' has no input series",
        ),
        (
            """
            rule_files: [missing.yaml]
            tests: [{alert_rule_test: [{eval_time: 1m}]}]
            """,
            "missing.yaml: (file): cannot read the file",
        ),
    ],
)
def test_malformed_test_files_are_rule_errors(tmp_path, text, words):
    with pytest.raises(RuleError) as caught:
        run_rule_tests(write(tmp_path, text))
    assert words in str(caught.value)
