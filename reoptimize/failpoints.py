"""Named failure points: kill this process at a chosen step, for crash tests.

A failure point is a call such as ``failpoints.hit("promotion.intent_recorded")`` placed between
two steps that must survive a crash. It does nothing unless the environment variable
``MODELHEALTHD_FAILPOINTS`` names it (a comma-separated list, read once at import); then the
process sends itself SIGKILL there, as ``kill -9`` or a power cut would, with no cleanup, no
``finally`` and no flush. When the variable is unset, ``hit`` is one test of an empty set.

The steps of a promotion, in order (the worker's first, then the daemon's):

* ``registry.staging_written``: every file of a new version is in its staging directory;
  the rename into ``versions/<n>`` has not happened;
* ``registry.version_renamed``: the version directory is in place; the job result is unwritten;
* ``worker.result_ready``: the job's result is computed; it is not in the state store yet;
* ``worker.result_written``: the job is recorded as finished with its result;
* ``supervisor.promoting``: the daemon is about to promote a job's passed candidate;
* ``promotion.intent_recorded``: the intent is in the state store; the pointer has not moved;
* ``registry.pointer_temp_written``: the new pointer is fsynced in a temp file, not yet renamed;
* ``promotion.pointer_switched``: the pointer names the new version; the intent is not done;
* ``promotion.marked_done``: the promotion and its decision are recorded; no reload yet;
* ``promotion.reload_called``: the server's reload hook answered; the job is not marked handled;
* ``supervisor.handled``: the job is marked handled.
"""

from __future__ import annotations

import os
import signal

ENV = "MODELHEALTHD_FAILPOINTS"

PROMOTION_STEPS = (
    "registry.staging_written",
    "registry.version_renamed",
    "worker.result_ready",
    "worker.result_written",
    "supervisor.promoting",
    "promotion.intent_recorded",
    "registry.pointer_temp_written",
    "promotion.pointer_switched",
    "promotion.marked_done",
    "promotion.reload_called",
    "supervisor.handled",
)
WORKER_STEPS = PROMOTION_STEPS[:4]


def _armed(value: str) -> frozenset[str]:
    names = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = sorted(names - set(PROMOTION_STEPS))
    if unknown:
        raise ValueError(
            f"{ENV}: unknown failure point(s) {unknown}; expected some of {list(PROMOTION_STEPS)}"
        )
    return names


_ARMED = _armed(os.environ.get(ENV, ""))


def hit(name: str) -> None:
    """Kill this process with SIGKILL if ``name`` is armed; otherwise return at once."""
    if _ARMED and name in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
