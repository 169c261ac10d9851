"""Rule files that are not rules at all: non-finite durations and YAML nested past the stack."""

from __future__ import annotations

import pytest

from rules.durations import parse_duration
from rules.loader import RuleError, parse_rules


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "nan", "inf", "1e400", "9" * 400 + "d"])
def test_non_finite_durations_are_refused(value) -> None:
    with pytest.raises(ValueError, match="finite duration"):
        parse_duration(value)


def test_a_nan_cooldown_is_named() -> None:
    with pytest.raises(RuleError, match=r"rule 'a' \(rules\[0\]\)\.cooldown: .*finite duration"):
        parse_rules("rules: [{name: a, when: 'rows > 1', cooldown: .nan}]")


def test_yaml_nested_past_the_stack_is_a_rule_error() -> None:
    with pytest.raises(RuleError, match="nested too deeply"):
        parse_rules("[" * 5000)
