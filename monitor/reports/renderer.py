"""Evidently drift reports, rendered by ``monitor.reports.report_worker`` in its own process.

The daemon never imports evidently: it writes the current window as Parquet beside a copy of
the verified reference, starts the worker, and reaps it later. At most one report per model
is rendered per ``min_interval``, and only one at a time per model.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from monitor.exporter import DaemonMetrics

log = logging.getLogger("modelhealthd.reports")


@dataclass
class _Running:
    process: subprocess.Popen[bytes]
    out: Path
    started: float


def write_npz(columns: Mapping[str, np.ndarray], path: Path) -> None:
    """The window as NumPy arrays (strings as fixed-width text, no pickles) for the report worker.

    The daemon writes NPZ rather than Parquet so that it never imports pyarrow (and pandas with it).
    """
    arrays: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        if values.dtype == object:
            arrays[name] = np.array(["" if v is None else str(v) for v in values.tolist()], dtype=str)
            arrays[f"__missing__{name}"] = np.array([v is None for v in values.tolist()], dtype=bool)
        else:
            arrays[name] = values
    # The archive np.savez writes, member by member: np.savez(path, **arrays) would take a column
    # named "file" or "allow_pickle" for its own parameter of that name.
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


class ReportRenderer:
    def __init__(
        self,
        reports_dir: Path,
        metrics: DaemonMetrics,
        min_interval: float = 600.0,
        python: str | None = None,
    ):
        self.dir = Path(reports_dir)
        self.metrics = metrics
        self.min_interval = min_interval
        self.python = python or sys.executable
        self.running: dict[str, _Running] = {}
        self.last: dict[str, float] = {}

    def due(self, model: str, now: float) -> bool:
        return model not in self.running and now - self.last.get(model, -1e18) >= self.min_interval

    def render(
        self,
        model: str,
        version: str,
        reference: bytes,
        current: Mapping[str, np.ndarray],
        now: float,
        extra: Mapping[str, Any] | None = None,
    ) -> Path:
        """Start rendering; returns the path the HTML report will have.

        ``extra`` (JSON-able, e.g. the drift impact) is shown above Evidently's report.
        """
        folder = self.dir / model
        work = folder / ".work"
        work.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        ref_path, cur_path = work / f"{stamp}-reference.parquet", work / f"{stamp}-current.npz"
        ref_path.write_bytes(reference)
        write_npz(current, cur_path)
        out = folder / f"{stamp}-v{version}-drift.html"
        argv = [
            self.python, "-m", "monitor.reports.report_worker",
            "--reference", str(ref_path), "--current", str(cur_path), "--out", str(out),
            "--json", str(out.with_suffix(".json")),
            "--workspace", str(self.dir / "workspace"), "--project", model,
        ]  # fmt: skip
        if extra is not None:
            extra_path = work / f"{stamp}-extra.json"
            extra_path.write_text(json.dumps(dict(extra), default=str))
            argv += ["--extra-json", str(extra_path)]
        log_file = open(work / f"{stamp}.log", "wb")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, env=_env())
        log_file.close()
        self.running[model] = _Running(proc, out, now)
        self.last[model] = now
        return out

    def reap(self) -> list[Path]:
        """Collect finished workers; returns the reports written since the last call."""
        done = []
        for model, item in list(self.running.items()):
            code = item.process.poll()
            if code is None:
                continue
            del self.running[model]
            ok = code == 0 and item.out.is_file()
            self.metrics.reports.labels(model, "ok" if ok else "failed").inc()
            if ok:
                done.append(item.out)
            else:
                log.warning("report worker for %s exited with %s", model, code, extra={"model": model})
        return done

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for item in list(self.running.values()):
            try:
                item.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                item.process.kill()
        self.reap()


def _env() -> dict[str, str]:
    import os

    return dict(os.environ, DO_NOT_TRACK="1")
