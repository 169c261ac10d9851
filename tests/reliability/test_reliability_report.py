"""The report's own table, so a broken report cannot hide a scenario."""

import pytest

pytestmark = pytest.mark.reliability


def test_rows_add_up_per_scenario(report) -> None:
    from tests.reliability.conftest import Report

    fresh = Report()
    fresh.record("crash during promotion", trials=10, faults=10, passes=10)
    fresh.record("crash during promotion", trials=12, faults=12, passes=11, lost=1, note="one lost")
    row = fresh.rows["crash during promotion"]
    assert (row.trials, row.faults, row.passes, row.lost, row.notes) == (22, 22, 21, 1, ["one lost"])
    assert "crash during promotion" in fresh.table().splitlines()[2]
