"""Ending a worker process once its work is written.

Worker processes load native libraries with threads of their own (pyarrow, ONNX Runtime,
torch). At interpreter shutdown, destroying those can abort the process ("terminate called
without an active exception", exit -6) after the work was done and recorded, which would turn a
good result into a failed exit code. A worker therefore flushes its output and leaves with
``os._exit``, skipping the native libraries' teardown.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
