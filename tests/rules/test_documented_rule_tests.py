"""A rule test written only from the README's documented format passes, and fails when it should.

The rule file and its test are taken from the README as a user would copy them, and run with
the real ``modelhealthd rules test`` command.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def documented_example() -> tuple[str, str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("#### Rule unit tests", 1)[1].split("\n### ", 1)[0]
    rules, test = re.findall(r"```yaml\n(.*?)```", section, re.S)[:2]
    return rules, test


def rules_test(tmp_path: Path, rules: str, test: str) -> subprocess.CompletedProcess:
    (tmp_path / "slow.yaml").write_text(rules)
    (tmp_path / "slow_test.yaml").write_text(test)
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "rules", "test", str(tmp_path / "slow_test.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_documented_example_passes(tmp_path) -> None:
    rules, test = documented_example()
    result = rules_test(tmp_path, rules, test)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new", "who"),
    [
        # expecting it to fire a minute early, while it is only pending
        (
            "      - eval_time: 3m\n        exp_firing: []",
            "      - eval_time: 3m\n        exp_firing: [{rule: slow, model: busy}]",
            "busy",
        ),
        # expecting nothing where it fires
        (
            "      - eval_time: 4m\n        exp_firing: [{rule: slow, model: busy}]",
            "      - eval_time: 4m\n        exp_firing: []",
            "busy",
        ),
        # expecting the idle server to be pending
        ("exp_pending: [{rule: slow, model: busy}]", "exp_pending: [{rule: slow, model: idle}]", "idle"),
    ],
)
def test_a_wrong_expectation_fails_with_a_diff(tmp_path, old, new, who) -> None:
    rules, test = documented_example()
    assert old in test
    result = rules_test(tmp_path, rules, test.replace(old, new))
    assert result.returncode == 1, result.stdout + result.stderr
    assert who in result.stdout and "slow" in result.stdout
