"""The traffic drill: replay a dataset's rows to a model server at a set rate, inject drift, deliver labels late.

:func:`run_replay` sends ``plan.rate`` rows per second to ``<url>/predict`` in
``plan.batches_per_second`` small batches, looping over the data, until ``plan.duration`` has
passed, ``plan.max_rows`` rows were sent, or ``stop`` is set. From the moment the plan's
:class:`~monitor.replay.drift_injection.DriftSpec` starts, rows are drifted (or taken from ``drift_data``).
Each answered row's true label is handed to a :class:`~monitor.replay.label_delivery.LabelSink`
``plan.label_delay`` seconds later. A live :class:`~monitor.replay.progress.ReplayProgress` can be
read from another thread while it runs::

    progress = ReplayProgress()
    thread = threading.Thread(target=run_replay, args=(plan, data, requests.Session()),
                              kwargs={"stop": stop, "progress": progress})
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from monitor.replay.drift_injection import DriftSpec, apply_drift, feature_indices
from monitor.replay.label_delivery import LabelDeliveryError, LabelRecord, LabelSink
from monitor.replay.progress import BATCH_CAP, BatchResult, ReplayProgress, ReplayStats
from monitor.replay.rows import ReplayData, load_replay_data


@dataclass(frozen=True)
class ReplayPlan:
    """How to replay: where, how fast, for how long, what drift, and how late the labels come."""

    url: str
    rate: float = 50.0
    duration: float | None = 60.0
    max_rows: int | None = None
    batches_per_second: float = 5.0
    drift: DriftSpec | None = None
    label_delay: float = 5.0
    model: str | None = None
    timeout: float = 10.0
    seed: int = 0
    wait_for_labels: bool = True

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError(f"rate = {self.rate}: expected rows per second > 0")
        if self.duration is None and self.max_rows is None:
            raise ValueError("a replay needs a duration or max_rows to end")
        if self.duration is not None and self.duration <= 0:
            raise ValueError(f"duration = {self.duration}: expected seconds > 0")
        if self.max_rows is not None and self.max_rows < 1:
            raise ValueError(f"max_rows = {self.max_rows}: expected at least 1")
        if not self.batches_per_second > 0:
            raise ValueError(f"batches_per_second = {self.batches_per_second}: expected > 0")
        if self.label_delay < 0:
            raise ValueError(f"label_delay = {self.label_delay}: expected seconds >= 0")

    @property
    def batch_size(self) -> int:
        return max(1, round(self.rate / self.batches_per_second))


_EPS = 1e-9  # float sums of tick intervals land a hair either side of a boundary


class _Runner:
    def __init__(
        self,
        plan: ReplayPlan,
        data: ReplayData,
        session: Any,
        clock: Callable[[], float],
        wall: Callable[[], float],
        wait: Callable[[float], Any],
        stop: threading.Event,
        labels: LabelSink | None,
        drift_data: ReplayData | None,
        progress: ReplayProgress,
        on_batch: Callable[[BatchResult], None] | None,
    ) -> None:
        self.plan, self.data, self.session = plan, data, session
        self.clock, self.wall, self.wait, self.stop = clock, wall, wait, stop
        self.labels, self.drift_data, self.progress, self.on_batch = labels, drift_data, progress, on_batch
        self.url = plan.url.rstrip("/") + "/predict"
        self.run_id = uuid.uuid4().hex[:12]
        self.rng = np.random.default_rng(plan.seed)
        self.std = data.features.std(axis=0)
        self.cursors = {"baseline": 0, "drift": 0}
        self.pending: deque[tuple[float, LabelRecord]] = deque()
        self.model = plan.model
        self.sent = 0

    def _take(self, phase: str, n: int) -> tuple[np.ndarray, list[Any] | None]:
        source = self.drift_data if phase == "drift" and self.drift_data is not None else self.data
        idx = (self.cursors[phase] + np.arange(n)) % len(source.features)
        self.cursors[phase] += n
        rows = source.features[idx]
        if phase == "drift" and self.plan.drift is not None:
            rows = apply_drift(rows, self.data.columns, self.plan.drift, self.std, self.rng)
        labels = None if source.labels is None else [source.labels[i] for i in idx]
        return rows, labels

    def send(self, phase: str, n: int, started: float) -> None:
        rows, labels = self._take(phase, n)
        ids = [f"{self.run_id}-{self.sent + i}" for i in range(n)]
        self.sent += n
        body = {"rows": [dict(zip(self.data.columns, r, strict=True)) for r in rows.tolist()], "ids": ids}
        t0 = self.clock()
        error, predictions, model, version = None, None, None, None
        try:
            resp = self.session.post(self.url, json=body, timeout=self.plan.timeout)
            if resp.status_code == 200:
                answer = resp.json()
                got, got_ids, model = answer["predictions"], answer["request_ids"], answer.get("model")
                version = answer.get("version")
                if len(got) != n or len(got_ids) != n:
                    raise ValueError(f"{len(got)} predictions and {len(got_ids)} request ids for {n} rows")
                predictions, ids = tuple(got), list(got_ids)
            else:
                error = f"{resp.status_code}: {resp.text[:300]}"
        except Exception as exc:  # connection refused, timeout, a body that is not the expected JSON...
            error = f"{type(exc).__name__}: {exc}"
        self.model = self.model or model
        result = BatchResult(
            phase,
            tuple(ids),
            predictions,
            None if labels is None else tuple(labels),
            error,
            self.clock() - t0,
            self.clock() - started,
            None if version is None else str(version),
        )
        self.progress.record_batch(result)
        if predictions is not None and labels is not None and self.labels is not None:
            due = self.clock() + self.plan.label_delay
            for rid, label in zip(ids, labels, strict=True):
                if label is not None:
                    self.pending.append((due, LabelRecord(rid, label, 0.0)))
            self.progress.set_pending(len(self.pending))
        if self.on_batch is not None:
            self.on_batch(result)

    def deliver_due(self) -> None:
        sink = self.labels
        if sink is None:  # send() queues labels only for a sink: nothing is pending without one
            return
        now = self.clock()
        while self.pending and self.pending[0][0] <= now:
            batch: list[LabelRecord] = []
            while self.pending and len(batch) < BATCH_CAP and self.pending[0][0] <= now:
                record = self.pending.popleft()[1]
                batch.append(LabelRecord(record.request_id, record.label, self.wall()))
            try:
                if self.model is None:
                    raise LabelDeliveryError(
                        "the model name is unknown (no successful prediction, no plan.model)"
                    )
                sink.deliver(self.model, batch)
                self.progress.record_labels(len(batch), None)
            except LabelDeliveryError as exc:
                self.progress.record_labels(len(batch), str(exc))
        self.progress.set_pending(len(self.pending))

    def run(self) -> ReplayStats:
        plan, interval = self.plan, 1.0 / self.plan.batches_per_second
        start, tick, stopped = self.clock(), 0, False
        cap = min(BATCH_CAP, plan.batch_size * 4)  # catch up after a slow answer, gently
        while True:
            if self.stop.is_set():
                stopped = True
                break
            elapsed = self.clock() - start
            if (plan.duration is not None and elapsed >= plan.duration - _EPS) or (
                plan.max_rows is not None and self.sent >= plan.max_rows
            ):
                break
            self.deliver_due()
            # Rows owed by the end of this tick; a tick that starts a little late must not add a row.
            due = math.floor(round(plan.rate * (elapsed + interval), 6))
            if plan.duration is not None:
                due = min(due, math.floor(round(plan.rate * plan.duration, 6)))
            if plan.max_rows is not None:
                due = min(due, plan.max_rows)
            n = min(due - self.sent, cap)
            drift = plan.drift
            phase = "drift" if drift is not None and drift.started(elapsed, self.sent) else "baseline"
            if phase == "baseline" and drift is not None and drift.at_rows is not None:
                n = min(n, drift.at_rows - self.sent)  # the first drifted row starts a new batch
            if n > 0:
                self.send(phase, n, start)
            tick += 1
            next_tick = start + tick * interval
            self.wait(max(0.0, next_tick - self.clock()))
        if not stopped and plan.wait_for_labels and self.labels is not None:
            last_due = self.pending[-1][0] if self.pending else self.clock()
            while self.pending and not self.stop.is_set():
                self.deliver_due()
                if self.pending:
                    self.wait(max(0.0, min(interval, last_due - self.clock())))
            stopped = self.stop.is_set()
        return self.progress.finish(self.clock() - start, stopped)


def run_replay(
    plan: ReplayPlan,
    data: ReplayData,
    session: Any,
    *,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
    wait: Callable[[float], Any] | None = None,
    labels: LabelSink | None = None,
    drift_data: ReplayData | None = None,
    progress: ReplayProgress | None = None,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> ReplayStats:
    """Run ``plan`` against the server with ``session`` (a ``requests.Session``) and return its stats.

    ``clock`` paces the sending (monotonic seconds), ``wall`` stamps labels (epoch seconds), and
    ``wait(seconds)`` pauses between batches (by default ``stop.wait``, so setting ``stop`` ends
    the run at once). Labels still pending when ``stop`` is set are not delivered.
    """
    stop = stop or threading.Event()
    if plan.drift is not None:
        if plan.drift.kind == "file":
            if drift_data is None:
                raise ValueError("drift kind 'file' needs drift_data (the rows to switch to)")
            if drift_data.columns != data.columns:
                raise ValueError(
                    f"{drift_data.source}: columns differ from {data.source}; expected {data.columns[:5]}..."
                )
        feature_indices(data.columns, plan.drift.features)
        side = math.isqrt(len(data.columns))
        if plan.drift.kind == "image-shift" and side * side != len(data.columns):
            raise ValueError(
                f"{data.source}: image-shift needs square images; {len(data.columns)} columns are not"
            )
    runner = _Runner(
        plan,
        data,
        session,
        clock,
        wall,
        wait or stop.wait,
        stop,
        labels,
        drift_data,
        progress or ReplayProgress(),
        on_batch,
    )
    return runner.run()


__all__ = (
    "BatchResult",
    "DriftSpec",
    "ReplayData",
    "ReplayPlan",
    "ReplayProgress",
    "ReplayStats",
    "load_replay_data",
    "run_replay",
)
