"""``modelhealthd rules validate|test``: check rule files and run their unit tests."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from monitor.cli.common import print_json
from reoptimize.steps.catalog import CATALOG
from rules.loader import RuleError, load_rules
from rules.testing import run_rule_tests


def _print_problems(error: RuleError) -> None:
    for problem in error.problems:
        print(str(problem), file=sys.stderr)
        if problem.expression is not None and problem.column is not None:
            text = problem.expression.replace("\n", " ").replace("\t", " ")
            print(f"    {text}\n    {' ' * (problem.column - 1)}^", file=sys.stderr)


def _problems_json(error: RuleError) -> list[dict[str, object]]:
    return [
        {"source": p.source, "where": p.where, "message": p.message, "column": p.column}
        for p in error.problems
    ]


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Check rule files and run their unit tests.", no_args_is_help=True)
    app.add_typer(group, name="rules")

    @group.command("validate")
    def validate(
        files: list[Path] = typer.Argument(..., help="Rule files to check."),
        as_json: bool = typer.Option(False, "--json", help="Print one result per file as JSON."),
    ) -> None:
        """Check rule files; print every problem with its file, rule, field and column. Exit 1 on any."""
        failed = False
        results = []
        for path in files:
            try:
                ruleset = load_rules(path, catalog=CATALOG)
            except RuleError as exc:
                results.append({"file": str(path), "ok": False, "problems": _problems_json(exc)})
                if not as_json:
                    _print_problems(exc)
                failed = True
                continue
            results.append({"file": str(path), "ok": True, "rules": len(ruleset)})
            if not as_json:
                print(f"{path}: ok ({len(ruleset)} rule(s))")
        if as_json:
            print_json(results)
        if failed:
            raise typer.Exit(1)

    @group.command("test")
    def test(
        files: list[Path] = typer.Argument(..., help="Rule test files (promtool-style)."),
        as_json: bool = typer.Option(False, "--json", help="Print one result per file as JSON."),
    ) -> None:
        """Run rule unit tests; print a diff for every failed check. Exit 1 on any failure."""
        failed = False
        results = []
        for path in files:
            try:
                report = run_rule_tests(path, catalog=CATALOG)
            except RuleError as exc:
                results.append({"file": str(path), "passed": False, "problems": _problems_json(exc)})
                if not as_json:
                    _print_problems(exc)
                failed = True
                continue
            results.append(
                {
                    "file": str(path),
                    "passed": report.passed,
                    "checks": len(report.results),
                    "failures": [r.diff() for r in report.failures],
                }
            )
            if not as_json:
                print(report.format())
            failed = failed or not report.passed
        if as_json:
            print_json(results)
        if failed:
            raise typer.Exit(1)
