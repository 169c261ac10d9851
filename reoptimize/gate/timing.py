"""Timing models against each other on a small, noisy machine.

Three habits keep the comparison fair on two shared cores:

* **interleave**: every round times each model once, in a rotating order, so a noisy
  neighbour, a frequency change or a cache flush hits all models alike;
* **repeat in blocks**: the runs are split into blocks and each block gives its own p50/p95;
  the reported figure is the median over blocks, so one disturbed block cannot move it;
* **medians**: a batch time is the median of many interleaved runs, never one run or a mean.

The garbage collector is paused while timing so that its pauses land on no model.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Speed:
    """Single-row latency (seconds) and batch time of one model, measured with its rivals."""

    latency_p50_seconds: float
    latency_p95_seconds: float
    latency_mean_seconds: float
    batch_seconds: float
    batch_rows: int

    @property
    def throughput_rows_per_second(self) -> float | None:
        return self.batch_rows / self.batch_seconds if self.batch_seconds > 0 else None


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def interleaved(
    models: Mapping[str, Any], inputs: Sequence[np.ndarray], rounds: int, timer: Callable[[], float]
) -> dict[str, list[float]]:
    """``rounds`` rounds; each times every model's ``run`` once, starting one model later each round."""
    names = list(models)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            x = inputs[r % len(inputs)]
            start = timer()
            models[name].run(x)
            times[name].append(timer() - start)
    return times


def measure_speed(
    models: Mapping[str, Any],
    rows: np.ndarray,
    *,
    latency_runs: int = 600,
    warmup_runs: int = 30,
    batch_rows: int = 256,
    batch_runs: int = 30,
    blocks: int = 5,
    timer: Callable[[], float] = time.perf_counter,
) -> dict[str, Speed]:
    """Time every model (anything with ``run(x)``) on single rows and on one batch of ``rows``.

    ``latency_runs`` and ``batch_runs`` are per model and split over ``blocks`` blocks;
    ``warmup_runs`` single-row rounds (and a tenth as many batch rounds) run first and are
    not counted.
    """
    if not models:
        raise ValueError("measure_speed: no models given")
    rows = np.ascontiguousarray(rows, dtype=np.float32)
    if rows.ndim != 2 or not len(rows):
        raise ValueError(f"measure_speed: expected a non-empty [N, F] array, got shape {rows.shape}")
    blocks = max(1, min(blocks, latency_runs, batch_runs))
    singles = [rows[i : i + 1] for i in range(min(len(rows), 64))]
    batch = [np.resize(rows, (batch_rows, rows.shape[1]))]
    p50s: dict[str, list[float]] = {name: [] for name in models}
    p95s: dict[str, list[float]] = {name: [] for name in models}
    means: dict[str, list[float]] = {name: [] for name in models}
    batches: dict[str, list[float]] = {name: [] for name in models}
    with gc_paused():
        interleaved(models, singles, warmup_runs * len(models), timer)
        interleaved(models, batch, max(1, warmup_runs // 10) * len(models), timer)
        for b in range(blocks):
            single_rounds = latency_runs // blocks + (1 if b < latency_runs % blocks else 0)
            batch_rounds = batch_runs // blocks + (1 if b < batch_runs % blocks else 0)
            single = interleaved(models, singles, single_rounds, timer)
            timed = interleaved(models, batch, batch_rounds, timer)
            for name in models:
                values = np.asarray(single[name])
                p50s[name].append(float(np.percentile(values, 50)))
                p95s[name].append(float(np.percentile(values, 95)))
                means[name].append(float(values.mean()))
                batches[name].extend(timed[name])
    return {
        name: Speed(
            latency_p50_seconds=float(np.median(p50s[name])),
            latency_p95_seconds=float(np.median(p95s[name])),
            latency_mean_seconds=float(np.median(means[name])),
            batch_seconds=float(np.median(batches[name])),
            batch_rows=batch_rows,
        )
        for name in models
    }


def speedup(before: Speed, after: Speed) -> dict[str, float]:
    """How many times faster ``after`` is than ``before``: batch throughput and single-row p50."""
    return {
        "batch": before.batch_seconds / after.batch_seconds if after.batch_seconds > 0 else float("inf"),
        "single_p50": before.latency_p50_seconds / after.latency_p50_seconds
        if after.latency_p50_seconds > 0
        else float("inf"),
    }


def onnx_speedup(
    before: bytes,
    after: bytes,
    rows: np.ndarray,
    *,
    task: str,
    classes: Sequence[Any] = (),
    latency_runs: int = 300,
    batch_runs: int = 20,
) -> dict[str, float]:
    """A quick interleaved comparison of two ONNX models (one thread each): see :func:`speedup`."""
    from reoptimize.onnx.onnx_model import OnnxModel

    models = {
        "before": OnnxModel(before, task=task, classes=classes, threads=1, source="before"),
        "after": OnnxModel(after, task=task, classes=classes, threads=1, source="after"),
    }
    speeds = measure_speed(models, rows, latency_runs=latency_runs, batch_runs=batch_runs)
    return speedup(speeds["before"], speeds["after"])
