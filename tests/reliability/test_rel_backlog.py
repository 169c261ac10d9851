"""Scenario 10 (part A's 5): a scheduler backlog. The daemon is frozen with SIGSTOP for longer
than the scheduler's misfire grace (30 s), as a suspended VM or a stuck host would freeze it,
then resumed with SIGCONT. From the scheduler's side this is a forward clock jump: every check
due during the pause is late at once.

Pass criterion: the late checks collapse into one run (no burst of catch-up checks), the
``modelhealth_scheduler_events_total{kind="coalesced"}`` counter records the runs that were
folded, and the last-success timestamp keeps advancing after the fault clears (no silent stall).
``RELIABILITY_PAUSE_SECONDS`` changes the pause (default 35).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.reliability.support_world import (
    MODEL,
    Daemon,
    World,
    free_port,
    model_server,
    poll,
    train_template,
)

pytestmark = pytest.mark.reliability

PAUSE = float(os.environ.get("RELIABILITY_PAUSE_SECONDS", "35"))
EVERY = 2.0


def metric(api: str, name: str, **labels: str) -> float | None:
    text = requests.get(api + "/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def test_a_long_pause_collapses_missed_checks_and_checks_resume(tmp_path: Path, report) -> None:
    world = World(
        tmp_path / "world", "", free_port(), extra_model={"check": {"every": f"{EVERY:g}s", "window": "1h"}}
    )
    train_template(world.state_dir)
    with model_server(world.registry_dir) as server_url:
        world.server_url = server_url
        world.write_config()
        daemon = Daemon(world)
        store = world.store()
        problems: list[str] = []
        try:
            daemon.wait_ready()
            last_success = "modelhealth_last_check_success_timestamp_seconds"
            poll(lambda: (metric(world.api, last_success, model=MODEL) or 0) > 0, 30, "a first check")
            before = metric(world.api, last_success, model=MODEL)
            coalesced_before = metric(world.api, "modelhealth_scheduler_events_total", kind="coalesced")

            os.kill(daemon.pid, signal.SIGSTOP)
            stopped_at = time.time()
            time.sleep(PAUSE)  # the fault itself: a bounded, deliberate pause
            resumed_at = time.time()
            os.kill(daemon.pid, signal.SIGCONT)

            # Two more checks after the catch-up one, so "keeps advancing" is seen twice.
            def advanced(after: float) -> float | None:
                value = metric(world.api, last_success, model=MODEL)
                return value if value is not None and value > after else None

            first = poll(lambda: advanced(resumed_at - 1.0), 30, "a check after the pause")
            second = poll(lambda: advanced(first), 30, "the next check")
            third = poll(lambda: advanced(second), 30, "the check after that")
            catch_up = [
                c for c in store.checks.list(MODEL, limit=1000, since=stopped_at) if c.at < resumed_at + EVERY
            ]
            coalesced = (
                metric(world.api, "modelhealth_scheduler_events_total", kind="coalesced") - coalesced_before
            )
            missed_runs = int(PAUSE // EVERY)
            if len(catch_up) > 2:
                problems.append(
                    f"{len(catch_up)} checks ran within {EVERY:g}s of the resume: a burst, not one"
                )
            if coalesced < missed_runs - 2:
                problems.append(
                    f"the coalesced counter rose by {coalesced:g}; about {missed_runs} runs were late"
                )
            if not before < first < second < third:
                problems.append(f"last success did not keep advancing: {before}, {first}, {second}, {third}")
            if requests.get(world.api + "/healthz", timeout=5).status_code != 200:
                problems.append("/healthz does not answer after the pause")
            lines = [line for line in daemon.lines() if line.get("event") == "scheduler_backlog"]
            if not lines:
                problems.append("nothing in the log says why checks were skipped")
        finally:
            store.close()
            assert daemon.stop(30) == 0, daemon.text()[-2000:]
    report.record_trial(
        "scheduler backlog (pause past misfire grace)",
        problems,
        note=f"paused {PAUSE:g}s with checks every {EVERY:g}s; {coalesced:g} late runs folded",
    )
    assert not problems, problems
