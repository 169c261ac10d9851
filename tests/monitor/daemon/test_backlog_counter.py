"""The backlog counter: runs the scheduler folded into one after a pause or a forward clock jump."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.daemon.backlog import BacklogCounter

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_on_time_runs_count_nothing_and_a_jump_counts_the_skipped_runs() -> None:
    backlog = BacklogCounter()
    backlog.track("check:m", 60.0)
    assert backlog.submitted("check:m", T0) == 0  # the first run has nothing to compare with
    assert backlog.submitted("check:m", T0 + timedelta(seconds=60)) == 0
    assert backlog.submitted("check:m", T0 + timedelta(minutes=11)) == 9
    assert backlog.submitted("check:m", T0 + timedelta(minutes=12)) == 0


def test_rescheduling_restarts_the_count_and_unknown_jobs_count_nothing() -> None:
    backlog = BacklogCounter()
    backlog.track("check:m", 60.0)
    backlog.submitted("check:m", T0)
    backlog.track("check:m", 10.0)  # a reload changed check.every
    assert backlog.submitted("check:m", T0 + timedelta(minutes=5)) == 0
    assert backlog.submitted("check:m", T0 + timedelta(minutes=5, seconds=30)) == 2
    assert backlog.submitted("other", T0) == 0 and backlog.submitted("other", T0 + timedelta(hours=1)) == 0


def test_a_clock_that_went_back_counts_nothing() -> None:
    backlog = BacklogCounter()
    backlog.track("supervise", 1.0)
    backlog.submitted("supervise", T0)
    assert backlog.submitted("supervise", T0 - timedelta(hours=1)) == 0
