"""``modelhealthd rules validate|test`` through typer's CliRunner and one real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from monitor.cli.rules_cmd import register

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parents[2]


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """A bare app so that ``rules`` stays a sub-command."""

    register(app)
    return app


def invoke(*args: str):
    return CliRunner().invoke(cli(), list(args))


def test_validate_ok():
    result = invoke("rules", "validate", str(DATA / "rules.yaml"), str(ROOT / "rules" / "default_rules.yaml"))
    assert result.exit_code == 0, result.output
    assert f"{DATA / 'rules.yaml'}: ok (2 rule(s))" in result.output


def test_validate_prints_every_problem_with_a_caret(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: a\n    when: rows > 1 && drift_shar > 0.3\n    severity: loud\n")
    result = invoke("rules", "validate", str(DATA / "rules.yaml"), str(bad))
    assert result.exit_code == 1
    out = result.output
    assert f"{bad}: rule 'a' (rules[0]).when: column 13: unknown measurement 'drift_shar'" in out
    assert "    rows > 1 && drift_shar > 0.3\n                ^" in out
    assert f"{bad}: rule 'a' (rules[0]).severity: got 'loud'" in out
    assert f"{DATA / 'rules.yaml'}: ok" in out  # the good file is still reported


def test_validate_missing_file():
    result = invoke("rules", "validate", "/nonexistent/rules.yaml")
    assert result.exit_code == 1 and "cannot read the file" in result.output


def test_test_passing_and_failing():
    passing = invoke("rules", "test", str(DATA / "passing_test.yaml"))
    assert passing.exit_code == 0 and "6 of 6 checks passed" in passing.output
    failing = invoke("rules", "test", str(DATA / "passing_test.yaml"), str(DATA / "failing_test.yaml"))
    assert failing.exit_code == 1
    assert "0 of 2 checks passed" in failing.output
    assert "+ drift for digits (firing, not expected)" in failing.output


def test_test_malformed_file(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("rule_files: []\n")
    result = invoke("rules", "test", str(bad))
    assert result.exit_code == 1 and "rule_files: expected at least one entry" in result.output


def test_the_installed_command_runs_the_default_rule_tests():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor.cli",
            "rules",
            "test",
            str(ROOT / "rules" / "default_rules_test.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checks passed" in result.stdout
