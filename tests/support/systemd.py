"""systemd unit helpers for tests: parse a unit, score it, and verify it without a running systemd."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support.binaries import needs, require

BIN = Path(sys.executable).parent / "modelhealthd"

# Fails the test up front, before an install or a copy, when systemd-analyze is missing.
needs_analyze = needs("systemd-analyze")


def settings(unit: Path) -> dict[str, list[str]]:
    """``Key=value`` lines of a unit, every value of a repeated key kept in order."""
    out: dict[str, list[str]] = {}
    for raw in unit.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def exposure(unit: Path) -> float:
    result = subprocess.run(
        [require("systemd-analyze"), "security", "--offline=yes", str(unit)], capture_output=True, text=True
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert match, result.stdout[-2000:] + result.stderr
    return float(match.group(1))


def verify(
    unit: Path, tmp_path: Path, prefix: str = "/opt/modelhealthd", real_prefix: Path | None = None
) -> None:
    """Verify a copy whose ExecStart points at a modelhealthd that exists on this machine."""
    copy = tmp_path / unit.name
    target = str(real_prefix) if real_prefix else str(BIN.parent.parent)
    text = unit.read_text().replace(f"{prefix}/venv", target)
    copy.write_text(text)
    result = subprocess.run([require("systemd-analyze"), "verify", str(copy)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert unit.name not in result.stderr, result.stderr
