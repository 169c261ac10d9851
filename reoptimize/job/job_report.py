"""The parts of a job's result that concern its candidates: measuring them with the champion,
vetoes, labels, and one record per plan saying why it was kept or dropped."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypedDict, Unpack

from reoptimize.gate.candidate_metrics import CandidateMetrics
from reoptimize.gate.evaluation import evaluate
from reoptimize.gate.selection import Selection, summary
from reoptimize.gate.verdict import GateVerdict
from reoptimize.job.job_inputs import JobInputs
from reoptimize.job.job_spec import JobData
from reoptimize.job.plans import Plan
from reoptimize.job.search import Built
from reoptimize.steps.step import Candidate


class MeasureRuns(TypedDict, total=False):
    """How long to time each model (see :func:`reoptimize.gate.evaluation.evaluate`)."""

    latency_runs: int
    warmup_runs: int
    batch_rows: int
    batch_runs: int
    blocks: int


def measure(
    inputs: JobInputs,
    data: JobData,
    candidates: dict[str, Candidate],
    features: tuple[str, ...],
    label: str,
    cost: Any,
    **runs: Unpack[MeasureRuns],
) -> dict[str, CandidateMetrics]:
    """The champion and ``candidates`` measured together, on the same rows and CPU."""
    models = {"champion": inputs.champion.onnx_bytes, **{n: c.onnx_bytes for n, c in candidates.items()}}
    return evaluate(
        models,
        inputs.holdout,
        inputs.recent_eval,
        {"champion": data.reference, **dict.fromkeys(candidates, inputs.train)},
        task=inputs.manifest.task,
        features=features,
        label=label,
        classes={"champion": inputs.champion.classes, **{n: c.classes for n, c in candidates.items()}},
        cost=cost,
        **runs,
    )


def vetoed(verdict: GateVerdict, veto: str | None) -> GateVerdict:
    if veto is None:
        return verdict
    return replace(verdict, passed=False, reasons=(*verdict.reasons, f"vetoed by its last step: {veto}"))


def label_for(name: str, plan: Plan, job_id: str, *, single: bool) -> str:
    return f"candidate of job {job_id}" if single else f"candidate {name} ({plan.name}) of job {job_id}"


def reports(
    built: list[Built],
    measured: dict[str, CandidateMetrics],
    verdicts: dict[str, GateVerdict],
    selection: Selection,
) -> list[dict[str, Any]]:
    """One record per plan: its metrics, its verdict, and why it was kept or dropped."""
    out = []
    for b in built:
        record: dict[str, Any] = {
            "name": b.name,
            "plan": b.plan.name,
            "steps": list(b.plan.steps),
            "seconds": b.seconds,
            "search": b.note,
        }
        if b.candidate is None:
            record.update(status=b.status, reason=b.note, summary={}, metrics=None, verdict=None)
        else:
            verdict = verdicts[b.name]
            if b.name == selection.chosen:
                status, reason = "kept", "passed the gate and is the best on the Pareto front"
            elif verdict.passed:
                status, reason = "dropped", selection.reasons.get(b.name, "passed, not chosen")
            else:
                status, reason = "rejected", "; ".join(verdict.reasons)
            record.update(
                status=status,
                reason=reason,
                summary=summary(measured[b.name]),
                metrics=measured[b.name].to_json(),
                verdict=verdict.to_json(),
                steps_info=list(b.step_infos),
            )
        out.append(record)
    return out
