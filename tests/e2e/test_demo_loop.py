"""The whole loop, as `make demo` runs it: real server, daemon and job-worker processes.

While the demo runs, the daemon's memory map is sampled: torch and evidently must never be
loaded into the daemon process (jobs and reports run in their own workers).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.binaries import require

pytestmark = pytest.mark.e2e

HEAVY = ("libtorch", "/torch/", "/evidently/")
RAW_TIMESTAMP = re.compile(r"(?<![\w.])\d{10}(?:\.\d+)?(?![\w.])")


def _daemon_pids(config: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"run" in cmdline and str(config).encode() in cmdline:
            pids.append(int(entry.name))
    return pids


def _heavy_mappings(pid: int) -> set[str]:
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return set()
    return {line.split()[-1] for line in maps.splitlines() if any(h in line for h in HEAVY)}


def test_demo_closes_the_loop(tmp_path: Path) -> None:
    promtool = require("promtool")  # before the minute the demo takes, not after it
    out = tmp_path / "demo-out"
    env = dict(os.environ, DO_NOT_TRACK="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "demo", "--out", str(out), "--timeout", "240"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    seen_daemon, heavy = False, set()
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        for pid in _daemon_pids(out / "config.yaml"):
            seen_daemon = True
            heavy |= _heavy_mappings(pid)
        time.sleep(0.5)
    if proc.poll() is None:
        proc.kill()
    output = proc.communicate()[0].decode(errors="replace")
    assert proc.returncode == 0, output[-4000:]
    assert seen_daemon, "the daemon process was never seen"
    assert not heavy, f"the daemon loaded {sorted(heavy)}"

    summary = json.loads((out / "summary.json").read_text())
    assert summary["promoted_version"] == "2"
    assert summary["accuracy_after_promotion"] > summary["accuracy_during_drift"] + 0.2
    assert summary["accuracy_before_drift"] > 0.85
    assert summary["seconds_from_drift_to_promotion"] > 0
    # The verdict is printed once (after the table), its trigger time in RFC 3339; the summary
    # keeps the whole text. No time anywhere in the output is a raw Unix timestamp.
    verdict = summary["gate_verdict"]
    assert "after the condition became true" in verdict and not RAW_TIMESTAMP.search(verdict), verdict
    assert output.count(verdict.split(":", 1)[0]) == 1, output[-4000:]
    assert not RAW_TIMESTAMP.search(output), RAW_TIMESTAMP.findall(output)
    assert (out / "drift-report.html").stat().st_size > 10_000
    assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("daemon.prom", "server.prom"):
        exposition = (out / name).read_bytes()
        check = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True)

        assert check.returncode == 0, (name, check.stdout, check.stderr)
    decisions = json.loads((out / "decisions.json").read_text())
    kinds = [d["kind"] for d in decisions]
    for kind in ("transition", "guard", "action", "job", "verdict", "promotion"):
        assert kind in kinds, kinds
    # the daemon's own view: accuracy from delayed labels, and drift gone once v2 is monitored
    from monitor.state.store import StateStore

    store = StateStore.open(f"sqlite:///{out / 'state' / 'state.db'}")
    checks = list(reversed(store.checks.list("digits", limit=1000)))
    v1 = [c.measurements for c in checks if c.version == "1" and c.measurements["accuracy"] is not None]
    v2 = [c.measurements for c in checks if c.version == "2" and c.measurements["accuracy"] is not None]
    assert max(m["accuracy"] for m in v1) > 0.85 and min(m["accuracy"] for m in v1) < 0.7
    assert v2 and v2[-1]["accuracy"] > 0.8
    assert checks[-1].version == "2" and checks[-1].measurements["drift_share"] < 0.3
    registry = out / "state" / "registry" / "digits"

    assert (registry / "production").read_text().strip() == "2"
    manifest = json.loads((registry / "versions" / "2" / "manifest.json").read_text())
    assert manifest["parent"] == "1" and manifest["lineage"]["trigger"]["rule"] == "feature-drift"
