"""The values a job passes in and out: its spec, its data and its result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reoptimize.gate.candidate_metrics import CandidateMetrics
from reoptimize.gate.verdict import GateVerdict

if TYPE_CHECKING:
    import pandas as pd


class JobError(RuntimeError):
    """A job that cannot run: no champion, mismatched features, a missing holdout."""


@dataclass(frozen=True)
class JobSpec:
    job_id: str
    model: str
    pipeline: str
    params: Mapping[str, Any] = field(default_factory=dict)
    recipe: Mapping[str, Any] = field(default_factory=dict)
    policy: Mapping[str, Any] = field(default_factory=dict)
    cost: Mapping[str, Any] = field(default_factory=dict)
    champion_version: str | None = None
    trigger: Mapping[str, Any] = field(default_factory=dict)
    # Seconds the job may spend building candidates (``auto`` tries several); None = default.
    time_budget: float | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobSpec:
        known = {
            "job_id",
            "model",
            "pipeline",
            "params",
            "recipe",
            "policy",
            "cost",
            "champion_version",
            "trigger",
            "time_budget",
        }
        missing = {"job_id", "model", "pipeline"} - set(data)
        if missing:
            raise JobError(f"job spec: missing field(s) {sorted(missing)}")
        unknown = set(data) - known
        if unknown:
            raise JobError(f"job spec {data.get('job_id')!r}: unknown field(s) {sorted(unknown)}")
        nullable = ("champion_version", "time_budget")
        return cls(**{k: (v if v is not None or k in nullable else {}) for k, v in data.items()})

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "model": self.model,
            "pipeline": self.pipeline,
            "params": dict(self.params),
            "recipe": dict(self.recipe),
            "policy": dict(self.policy),
            "cost": dict(self.cost),
            "champion_version": self.champion_version,
            "trigger": dict(self.trigger),
            "time_budget": self.time_budget,
        }


@dataclass(frozen=True)
class JobData:
    reference: pd.DataFrame
    recent: pd.DataFrame  # labelled, with request_id
    features: tuple[str, ...]
    label: str
    unlabelled: pd.DataFrame | None = None
    # The new version is monitored against the recent rows at or after this time (Unix seconds,
    # compared with a ``ts`` column): the traffic as it is now, not as it was before a drift.
    reference_since: float | None = None


@dataclass(frozen=True)
class JobResult:
    job_id: str
    model: str
    pipeline: str
    champion_version: str
    champion: CandidateMetrics
    candidate: CandidateMetrics
    verdict: GateVerdict
    staged_version: str | None
    timings: Mapping[str, float]
    steps: tuple[Mapping[str, Any], ...] = ()
    data_windows: Mapping[str, Any] = field(default_factory=dict)
    # Every candidate the job built or considered, with its metrics and why it was kept or dropped.
    candidates: tuple[Mapping[str, Any], ...] = ()
    goal: Mapping[str, Any] = field(default_factory=dict)
    policy: Mapping[str, Any] = field(default_factory=dict)
    chosen: str | None = None  # the name of the kept candidate, when one passed

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "model": self.model,
            "pipeline": self.pipeline,
            "champion_version": self.champion_version,
            "champion": self.champion.to_json(),
            "candidate": self.candidate.to_json(),
            "verdict": self.verdict.to_json(),
            "staged_version": self.staged_version,
            "timings": dict(self.timings),
            "steps": [dict(s) for s in self.steps],
            "data_windows": dict(self.data_windows),
            "candidates": [dict(c) for c in self.candidates],
            "goal": dict(self.goal),
            "policy": dict(self.policy),
            "chosen": self.chosen,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobResult:
        """The result :meth:`to_json` wrote; raises :class:`JobError` naming what is wrong."""
        try:
            return cls(
                job_id=str(data["job_id"]),
                model=str(data["model"]),
                pipeline=str(data["pipeline"]),
                champion_version=str(data["champion_version"]),
                champion=CandidateMetrics.from_json(data["champion"]),
                candidate=CandidateMetrics.from_json(data["candidate"]),
                verdict=GateVerdict.from_json(data["verdict"]),
                staged_version=None if data.get("staged_version") is None else str(data["staged_version"]),
                timings=dict(data.get("timings") or {}),
                steps=tuple(dict(s) for s in data.get("steps") or ()),
                data_windows=dict(data.get("data_windows") or {}),
                candidates=tuple(dict(c) for c in data.get("candidates") or ()),
                goal=dict(data.get("goal") or {}),
                policy=dict(data.get("policy") or {}),
                chosen=data.get("chosen"),
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise JobError(f"job result of {data.get('job_id', '?')!r} is malformed: {exc}") from None
