"""The process a local executor starts for one job: read its :class:`JobRef`, call its entry, exit.

``python -m reoptimize.executors.job_process --job ID`` with the reference as JSON on stdin (not
in the command line, which every local user can read). The job id is in the command line only so
that an operator can tell the processes apart. The exit code is the entry's return value;
a reference that cannot be read or an entry that cannot be imported exits with 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback

from reoptimize.executors.executor import ExecutorError, JobRef, load_entry
from reoptimize.executors.process_exit import exit_now

EXIT_BAD_REFERENCE = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reoptimize.executors.job_process")
    parser.add_argument("--job", required=True, help="the job id (for process listings)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s job %(levelname)s %(message)s")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    try:
        ref = JobRef.from_json(sys.stdin.read())
        if ref.job_id != args.job:
            raise ExecutorError(f"the reference on stdin is for job {ref.job_id}, not {args.job}")
        entry = load_entry(ref.entry)
    except (ExecutorError, ImportError) as exc:
        print(f"job {args.job}: cannot start: {exc}", file=sys.stderr, flush=True)
        return EXIT_BAD_REFERENCE
    try:
        return int(entry(ref.payload))
    except Exception:  # the entry records its own failures; this is the last resort
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    exit_now(main())
