"""The whole demo with its state in PostgreSQL: ``modelhealthd demo --state postgresql://...``.

The same loop as tests/e2e/test_demo_loop.py (real server, daemon and job workers), with the
daemon and its workers writing to a fresh database on the session's PostgreSQL server. It
takes minutes, so it runs with ``make test-slow``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.state.daemon_lock import holder
from monitor.state.store import StateStore

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_demo_closes_the_loop_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    out = tmp_path / "demo-out"
    argv = [
        sys.executable,
        "-m",
        "monitor.cli",
        "demo",
        "--out",
        str(out),
        "--timeout",
        "240",
        "--state",
        postgres_url,
    ]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=330, env=dict(os.environ, DO_NOT_TRACK="1")
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["promoted_version"] == "2"
    assert summary["accuracy_after_promotion"] > summary["accuracy_during_drift"] + 0.2
    assert not (out / "state" / "state.db").exists(), "the demo wrote a SQLite store as well"

    assert holder(postgres_url) is None  # the demo's daemon stopped and gave the store back
    store = StateStore.open(postgres_url)
    try:
        (promotion,) = [
            p for p in store.promotions.list("digits") if p.kind == "promote" and p.state == "done"
        ]
        assert promotion.to_version == "2"
        job = store.jobs.get(promotion.job_id)
        assert job is not None and job.state == "succeeded" and job.rule == "feature-drift"
        kinds = {d.kind for d in store.decisions.list("digits", limit=10_000)}
        assert {"transition", "guard", "action", "job", "verdict", "promotion"} <= kinds
        assert store.checks.count("digits") > 10 and store.labels.since("digits", 0)
    finally:
        store.close()
