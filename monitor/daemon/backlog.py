"""Counting scheduled runs that were collapsed into one after a pause or a clock jump.

The scheduler coalesces: when a job's run times piled up (the process was stopped, the host
slept, the clock jumped forward), it runs the job once, for the latest of them, and drops the
rest without an event. :class:`BacklogCounter` makes those dropped runs visible. It remembers
the run time of each submission per job, and on the next one counts how many whole intervals
were skipped in between. Pure: the caller feeds it the scheduler's submission events.

Example::

    backlog = BacklogCounter()
    backlog.track("check:digits", 60.0)
    backlog.submitted("check:digits", t0)                        # 0
    backlog.submitted("check:digits", t0 + timedelta(minutes=10))  # 9 runs were collapsed
"""

from __future__ import annotations

import threading
from datetime import datetime


class BacklogCounter:
    def __init__(self) -> None:
        self._interval: dict[str, float] = {}
        self._last: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def track(self, job_id: str, interval_seconds: float) -> None:
        """(Re)start counting for ``job_id``, scheduled every ``interval_seconds``."""
        with self._lock:
            self._interval[job_id] = float(interval_seconds)
            self._last.pop(job_id, None)

    def submitted(self, job_id: str, run_time: datetime) -> int:
        """The number of runs skipped since the job's previous submission (0 when none)."""
        with self._lock:
            interval = self._interval.get(job_id)
            previous, self._last[job_id] = self._last.get(job_id), run_time
        if interval is None or interval <= 0 or previous is None or run_time <= previous:
            return 0
        return max(0, round((run_time - previous).total_seconds() / interval) - 1)
