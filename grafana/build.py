"""Build modelhealthd's Grafana dashboards as JSON: ``python grafana/build.py [--check]``.

The dashboards are code (one ``board_*.py`` each, built from ``panels.py``) so that every
query is written once and reviewed there; the JSON in ``grafana/dashboards/`` is what Grafana
provisions. ``--check`` exits 1 when the committed JSON is not what the code builds (a test
runs it). Every query reads the daemon's own metrics (``modelhealth_*``), so the dashboards
work for any model server the daemon watches.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import board_fleet
import board_jobs
import board_model

OUT = Path(__file__).resolve().parent / "dashboards"
DASHBOARDS = {"fleet.json": board_fleet.build, "model.json": board_model.build, "jobs.json": board_jobs.build}


def render(build) -> str:  # noqa: ANN001
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Exit 1 if the committed JSON is out of date.")
    args = parser.parse_args(argv)
    stale = []
    for name, build in DASHBOARDS.items():
        path, text = OUT / name, render(build)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
            continue
        OUT.mkdir(exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python grafana/build.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
