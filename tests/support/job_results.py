"""Job results as a worker writes them (``JobResult.to_json()``), for tests that arrange finished jobs."""

from __future__ import annotations

from typing import Any

from reoptimize.gate.candidate_metrics import CandidateMetrics
from reoptimize.gate.verdict import GateVerdict
from reoptimize.job.job_spec import JobResult


def job_result_json(
    job_id: str,
    model: str,
    *,
    passed: bool = True,
    approval: str = "auto",
    staged_version: str | None = "2",
    champion_version: str = "1",
    pipeline: str = "retrain",
    reason: str | None = None,
) -> dict[str, Any]:
    verdict = GateVerdict(
        passed=passed,
        objective="recent_accuracy",
        candidate_value=0.9,
        champion_value=0.6,
        objective_gain=0.3,
        min_improvement=0.01,
        constraints=(),
        reasons=() if passed else (reason or "objective recent_accuracy gain is below the minimum",),
        approval=approval,
        candidate_label=f"v{staged_version}" if staged_version else "candidate",
        champion_label=f"v{champion_version}",
    )
    metrics = CandidateMetrics(recent_accuracy=0.6)
    return JobResult(
        job_id=job_id,
        model=model,
        pipeline=pipeline,
        champion_version=champion_version,
        champion=metrics,
        candidate=CandidateMetrics(recent_accuracy=0.9),
        verdict=verdict,
        staged_version=staged_version if passed else None,
        timings={},
    ).to_json()
