"""Build reference profiles in a process of their own, so the daemon never imports pyarrow or pandas.

Reading Parquet loads pyarrow and, through it, pandas: about 90 MB the daemon would keep for
good. The daemon instead runs, once per batch of versions without a cached profile::

    python -m monitor.check.profile_worker < jobs.json

where ``jobs.json`` is a list of ``{"registry", "model", "version", "features", "label",
"methods", "out", "key"}`` and ``registry`` holds the registry's settings (``{"kind": ...}``, see
:mod:`reoptimize.registry.backends`). Each profile is written to ``out`` (see
:mod:`monitor.check.reference_profile`); a job that fails prints ``{"model", "version", "error"}`` as
one JSON line on stdout and the others still run. Exit code 0 unless the input is unusable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from monitor.check.reference_profile import build_profile, save_profile
from reoptimize.registry.backends import open_registry


def run(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Build and save every job's profile; returns one error record per failed job."""
    errors = []
    for job in jobs:
        try:
            registry = open_registry(job["registry"])
            data = registry.read_bytes(job["model"], job["version"], "reference.parquet")
            source = f"{job['model']} v{job['version']} reference.parquet"
            profile = build_profile(data, job["features"], job["label"], job["methods"], source)
            save_profile(Path(job["out"]), profile, job["key"])
        except Exception as exc:  # reported per job; one broken reference must not stop the others
            errors.append({"model": job.get("model"), "version": job.get("version"), "error": f"{exc}"})
    return errors


def main() -> int:
    try:
        jobs = json.load(sys.stdin)
    except ValueError as exc:
        print(f"profile_worker: stdin is not a JSON list of jobs: {exc}", file=sys.stderr)
        return 2
    for error in run(jobs):
        print(json.dumps(error), flush=True)
    return 0


if __name__ == "__main__":
    from reoptimize.executors.process_exit import exit_now

    exit_now(main())
