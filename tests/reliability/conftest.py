"""The reliability suite: fault-injection scenarios, each recording one row of the final report.

Run it with ``make test-reliability``. Each test module sets ``pytestmark = pytest.mark.reliability``
(the default run leaves these out). Every scenario calls ``report.record(...)`` with the trials
it ran, the faults it injected, the trials that met the pass criterion and anything lost (a
count of jobs, labels, alerts or promotions that went missing or were duplicated). The table is
printed at the end of the run, and written as JSON to ``reliability-report.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest


@dataclass
class Row:
    scenario: str
    trials: int = 0
    faults: int = 0
    passes: int = 0
    lost: int = 0
    notes: list[str] = field(default_factory=list)


class Report:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    def record(
        self, scenario: str, *, trials: int, faults: int, passes: int, lost: int = 0, note: str = ""
    ) -> None:
        """Add to the scenario's row; a scenario may record from several tests."""
        row = self.rows.setdefault(scenario, Row(scenario))
        row.trials += trials
        row.faults += faults
        row.passes += passes
        row.lost += lost
        if note:
            row.notes.append(note)

    def record_trial(self, scenario: str, problems: list[str], *, lost: int = 0, note: str = "") -> None:
        """One trial with one fault: it passed when it found no problems."""
        self.record(scenario, trials=1, faults=1, passes=0 if problems else 1, lost=lost, note=note)

    def table(self) -> str:
        head = f"{'scenario':44} {'trials':>7} {'faults':>7} {'passes':>7} {'lost':>5}"
        lines = [head, "-" * len(head)]
        for row in self.rows.values():
            lines.append(f"{row.scenario:44} {row.trials:>7} {row.faults:>7} {row.passes:>7} {row.lost:>5}")
        return "\n".join(lines)


_REPORT = Report()


@pytest.fixture(scope="session")
def report() -> Report:
    return _REPORT


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001, ARG001
    if not _REPORT.rows:
        return
    terminalreporter.write_sep("=", "reliability report")
    terminalreporter.write_line(_REPORT.table())
    out = Path(os.environ.get("RELIABILITY_REPORT", "reliability-report.json"))
    out.write_text(json.dumps([asdict(r) for r in _REPORT.rows.values()], indent=2) + "\n")
