"""What the demo leaves behind: summary.json, the timeline picture, metrics scrapes, the drift report."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests


@dataclass(frozen=True)
class Summary:
    promoted_version: str | None
    accuracy_before_drift: float | None
    accuracy_during_drift: float | None
    accuracy_after_promotion: float | None
    seconds_from_drift_to_promotion: float | None
    rows_before_drift: int
    rows_during_drift: int
    rows_after_promotion: int
    finished: bool
    reason: str
    elapsed_seconds: float
    gate_verdict: str | None = None
    drift_report: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def accuracy(marks: Sequence[bool]) -> float | None:
    return sum(marks) / len(marks) if marks else None


def scrape(url: str, path: Path, session: requests.Session) -> bool:
    try:
        response = session.get(url, timeout=5)
        response.raise_for_status()
    except requests.RequestException:
        return False
    path.write_bytes(response.content)
    return True


def copy_latest_report(reports_dir: Path, out: Path) -> Path | None:
    reports = sorted(reports_dir.glob("*.html"))
    if not reports:
        return None
    target = out / "drift-report.html"
    shutil.copyfile(reports[-1], target)
    return target


def write_summary(summary: Summary, out: Path) -> Path:
    path = out / "summary.json"
    path.write_text(json.dumps(summary.to_json(), indent=2) + "\n")
    return path


def plot_timeline(
    checks: Sequence[dict[str, Any]],
    live: Sequence[tuple[float, float]],
    drift_at: float | None,
    promoted_at: float | None,
    t0: float,
    path: Path,
) -> Path:
    """Drift share, accuracy and p95 latency over time, with the drift and the promotion marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def series(name: str) -> tuple[list[float], list[float]]:
        pts = [(c["at"] - t0, c["measurements"].get(name)) for c in checks]
        pts = [(t, v) for t, v in pts if v is not None]
        return [t for t, _ in pts], [v for _, v in pts]

    fig, axes = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
    t, v = series("drift_share")
    axes[0].plot(t, v, color="tab:orange", marker=".")
    axes[0].set_ylabel("drift share")
    axes[0].set_ylim(-0.02, 1.02)
    t, v = series("accuracy")
    axes[1].plot(t, v, color="tab:blue", marker=".", label="daemon (labelled window)")
    if live:
        axes[1].plot(
            [p[0] for p in live], [p[1] for p in live], color="tab:green", alpha=0.7, label="live (replay)"
        )
    axes[1].set_ylabel("accuracy")
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].legend(loc="lower left")
    t, v = series("latency_p95_seconds")
    axes[2].plot(t, [x * 1000 for x in v], color="tab:purple", marker=".")
    axes[2].set_ylabel("p95 latency (ms)")
    axes[2].set_xlabel("seconds since the traffic started")
    for ax in axes:
        if drift_at is not None:
            ax.axvline(drift_at, color="tab:red", linestyle="--", label="drift")
        if promoted_at is not None:
            ax.axvline(promoted_at, color="tab:green", linestyle="-", label="promotion")
    axes[0].legend(
        handles=[h for h in axes[0].get_lines() if h.get_label() in ("drift", "promotion")], loc="upper left"
    )
    fig.suptitle("modelhealthd demo: drift, accuracy and latency of the digits model")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
