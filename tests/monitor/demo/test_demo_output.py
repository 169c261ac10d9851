"""The demo prints the gate's verdict once, after the before/after table: the decisions that quote
it (the job's outcome, the promotion's reason) point there instead, in the stream and in the
live table. The artefacts keep the full text.

The decisions and the job are the real supervisor's and promoter's, read back from the store in
the shape the daemon's API serves them.
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pytest
from rich.console import Console

from monitor.demo import artefacts
from monitor.demo.follow import VERDICT_AT_THE_END, LoopState, brief, render
from monitor.demo.run import _print_table
from monitor.replay.progress import ReplayProgress
from tests.support.handled_jobs import handle_passing_job, make_world

RAW_TIMESTAMP = re.compile(r"(?<![\w.])\d{10}(?:\.\d+)?(?![\w.])")


@pytest.fixture
def seen(tmp_path: Path, loopback) -> tuple[LoopState, str]:
    world = make_world(tmp_path, loopback)
    try:
        job_id = handle_passing_job(world)
        job = world.store.jobs.get(job_id).to_json()
        decisions = sorted((d.to_json() for d in world.store.decisions.list("churn")), key=lambda d: d["id"])
    finally:
        world.store.close()
    state = LoopState(model={"jobs": [job], "production_version": "2"}, decisions=decisions)
    return state, job["result"]["verdict"]["text"]


def test_decisions_that_quote_the_verdict_point_to_it(seen) -> None:  # noqa: ANN001
    state, verdict = seen
    assert state.verdict_texts == {verdict}
    quoting = [d for d in state.decisions if verdict in d["message"]]
    assert {d["kind"] for d in quoting} == {"verdict", "promotion"}
    for d in quoting:
        shown = brief(d["message"], state.verdict_texts)
        assert verdict.splitlines()[0] not in shown and VERDICT_AT_THE_END in shown, shown
    assert brief("rule drift firing for churn", state.verdict_texts) == "rule drift firing for churn"


def test_the_live_table_does_not_repeat_the_verdict(seen) -> None:  # noqa: ANN001
    state, verdict = seen
    out = io.StringIO()
    Console(file=out, width=240).print(render(state, ReplayProgress(), time.monotonic()))
    assert verdict.splitlines()[0] not in out.getvalue()
    assert out.getvalue().count(VERDICT_AT_THE_END) == 2


def test_the_summary_prints_the_verdict_once_with_its_trigger_in_rfc3339(seen) -> None:  # noqa: ANN001
    _, verdict = seen
    summary = artefacts.Summary(
        promoted_version="2", accuracy_before_drift=0.95, accuracy_during_drift=0.5,
        accuracy_after_promotion=0.9, seconds_from_drift_to_promotion=75.2, rows_before_drift=300,
        rows_during_drift=200, rows_after_promotion=100, finished=True, reason="the loop closed",
        elapsed_seconds=120.0, gate_verdict=verdict,
    )  # fmt: skip
    out = io.StringIO()
    _print_table(summary, Console(file=out, width=240))
    printed = out.getvalue()
    assert printed.count(verdict.splitlines()[0]) == 1
    assert "at 2026-12-08T00:02:48Z, 9 s after the condition became true" in printed
    assert not RAW_TIMESTAMP.search(printed), printed
    assert summary.to_json()["gate_verdict"] == verdict  # the artefact keeps the whole text
