"""What a traffic replay has done so far: counts per phase, recent predictions with labels, errors.

:class:`ReplayProgress` is updated by the replay thread and read by others (the demo shows live
accuracy from it); :meth:`ReplayProgress.snapshot` returns a frozen :class:`ReplayStats`.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

BATCH_CAP = 1000  # the most rows in one request or one label delivery
PHASES = ("baseline", "drift")


def same_label(prediction: Any, label: Any) -> bool:
    """Predictions come back as JSON and labels from a data file: 3, 3.0 and "3" are one class."""
    if prediction == label:
        return True
    return str(prediction) == str(label)


@dataclass(frozen=True)
class BatchResult:
    """One request: its rows' ids, the answers (``None`` on failure) and the true labels if known."""

    phase: str
    request_ids: tuple[str, ...]
    predictions: tuple[Any, ...] | None
    labels: tuple[Any, ...] | None
    error: str | None
    latency_seconds: float
    at_seconds: float  # since the replay started
    version: str | None = None  # the model version that answered

    @property
    def rows(self) -> int:
        return len(self.request_ids)


@dataclass(frozen=True)
class RecentPrediction:
    request_id: str
    phase: str
    prediction: Any
    label: Any  # None when the data has no label for the row
    at_seconds: float
    version: str | None = None

    @property
    def correct(self) -> bool | None:
        return None if self.label is None else same_label(self.prediction, self.label)


@dataclass(frozen=True)
class PhaseCounts:
    sent: int = 0
    ok: int = 0
    failed: int = 0
    labelled: int = 0
    correct: int = 0

    @property
    def accuracy(self) -> float | None:
        """Accuracy of the answered rows whose label the replay knows; ``None`` when there are none."""
        return self.correct / self.labelled if self.labelled else None


@dataclass(frozen=True)
class ReplayStats:
    sent: int = 0
    ok: int = 0
    failed: int = 0
    labels_delivered: int = 0
    labels_failed: int = 0
    labels_pending: int = 0
    phases: Mapping[str, PhaseCounts] = field(default_factory=dict)
    elapsed_seconds: float = 0.0
    stopped: bool = False
    last_error: str | None = None
    last_label_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "phases"}
        out["phases"] = {
            name: {**counts.__dict__, "accuracy": counts.accuracy} for name, counts in self.phases.items()
        }
        return out


class ReplayProgress:
    """Live, thread-safe replay counters, plus the last ``keep`` predictions with their labels."""

    def __init__(self, keep: int = 2000):
        self._lock = threading.Lock()
        self._stats = ReplayStats(phases={p: PhaseCounts() for p in PHASES})
        self._recent: deque[RecentPrediction] = deque(maxlen=keep)

    def record_batch(self, result: BatchResult) -> None:
        n = result.rows
        predictions = result.predictions
        ok = predictions is not None
        with self._lock:
            counts = self._stats.phases[result.phase]
            labelled = correct = 0
            if predictions is not None:
                for i, rid in enumerate(result.request_ids):
                    label = None if result.labels is None else result.labels[i]
                    entry = RecentPrediction(
                        rid, result.phase, predictions[i], label, result.at_seconds, result.version
                    )
                    self._recent.append(entry)
                    if label is not None:
                        labelled += 1
                        correct += bool(entry.correct)
            counts = replace(
                counts,
                sent=counts.sent + n,
                ok=counts.ok + (n if ok else 0),
                failed=counts.failed + (0 if ok else n),
                labelled=counts.labelled + labelled,
                correct=counts.correct + correct,
            )
            s = self._stats
            self._stats = replace(
                s,
                sent=s.sent + n,
                ok=s.ok + (n if ok else 0),
                failed=s.failed + (0 if ok else n),
                phases={**s.phases, result.phase: counts},
                elapsed_seconds=result.at_seconds,
                last_error=result.error or s.last_error,
            )

    def record_labels(self, n: int, error: str | None) -> None:
        with self._lock:
            s = self._stats
            if error is None:
                self._stats = replace(s, labels_delivered=s.labels_delivered + n)
            else:
                self._stats = replace(s, labels_failed=s.labels_failed + n, last_label_error=error)

    def set_pending(self, n: int) -> None:
        with self._lock:
            self._stats = replace(self._stats, labels_pending=n)

    def finish(self, elapsed: float, stopped: bool) -> ReplayStats:
        with self._lock:
            self._stats = replace(self._stats, elapsed_seconds=elapsed, stopped=stopped)
            return self._stats

    def snapshot(self) -> ReplayStats:
        with self._lock:
            return self._stats

    def recent(self, last: int | None = None) -> list[RecentPrediction]:
        with self._lock:
            items = list(self._recent)
        return items if last is None else items[-last:]

    def accuracy(self, last: int | None = None, phase: str | None = None) -> float | None:
        """Accuracy over the last ``last`` labelled predictions (of ``phase`` if given)."""
        marks = [
            r.correct for r in self.recent() if r.correct is not None and (phase is None or r.phase == phase)
        ]
        if last is not None:
            marks = marks[-last:]
        return sum(marks) / len(marks) if marks else None
