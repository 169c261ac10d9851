"""Executor backends by kind, as ``jobs.executor`` names them: one module per backend, imported
only when it is the one configured (a cluster client library loads only for its backend).

Each backend class has ``from_settings(settings) -> Executor``; ``settings`` holds ``log_dir``
(where the daemon keeps job logs), ``python`` (``jobs.python``) and the backend's own section.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from reoptimize.executors.executor import Executor, ExecutorError

EXECUTORS: Mapping[str, str] = {
    "local": "reoptimize.executors.local_executor:LocalExecutor",
}


def open_executor(kind: str, settings: Mapping[str, Any]) -> Executor:
    """The executor of ``kind`` built from ``settings``; raises ExecutorError for an unknown kind."""
    if kind not in EXECUTORS:
        raise ExecutorError(f"unknown executor {kind!r}; expected one of {', '.join(sorted(EXECUTORS))}")
    module_name, _, name = EXECUTORS[kind].partition(":")
    backend = getattr(importlib.import_module(module_name), name)
    executor: Executor = backend.from_settings(settings)
    return executor
