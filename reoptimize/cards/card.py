"""The model card of one version: a frozen record of its metrics, lineage, gate verdict and surrogate.

:mod:`reoptimize.cards.model_card` builds one; :mod:`reoptimize.cards.card_text` renders it
as Markdown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reoptimize.cards.surrogate import Surrogate

CARD_SCHEMA = 1
HEADLINE = (
    ("holdout_accuracy", "Holdout accuracy"),
    ("recent_accuracy", "Recent-window accuracy"),
    ("train_holdout_gap", "Train/holdout gap"),
    ("f1", "Holdout macro F1"),
    ("rmse", "Holdout RMSE"),
    ("mae", "Holdout MAE"),
    ("latency_p50_seconds", "Single-row p50 latency (s)"),
    ("latency_p95_seconds", "Single-row p95 latency (s)"),
    ("batch_throughput_rows_per_second", "Batch throughput (rows/s)"),
    ("model_size_bytes", "Model size (bytes)"),
    ("cost_per_1k_predictions", "Cost per 1k predictions"),
)


@dataclass(frozen=True)
class ModelCard:
    model: str
    version: str
    parent: str | None
    task: str
    features: tuple[str, ...]
    label: str
    classes: tuple[Any, ...]
    metrics: Mapping[str, Any] = field(default_factory=dict)
    lineage: Mapping[str, Any] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)  # name -> sha256
    training: Mapping[str, Any] = field(default_factory=dict)
    surrogate: Surrogate | None = None

    @property
    def gate(self) -> Mapping[str, Any] | None:
        return self.lineage.get("gate")

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": CARD_SCHEMA,
            "model": self.model,
            "version": self.version,
            "parent": self.parent,
            "task": self.task,
            "features": list(self.features),
            "label": self.label,
            "classes": list(self.classes),
            "metrics": dict(self.metrics),
            "lineage": _lineage_summary(self.lineage),
            "gate": dict(self.gate) if self.gate else None,
            "files": dict(self.files),
            "training": dict(self.training),
            "surrogate": self.surrogate.to_json() if self.surrogate else None,
        }


def _lineage_summary(lineage: Mapping[str, Any]) -> dict[str, Any]:
    keys = (
        "source",
        "parent",
        "job_id",
        "pipeline",
        "plan",
        "trigger",
        "goal",
        "policy",
        "data_windows",
        "inputs",
        "candidates",
    )
    return {k: lineage[k] for k in keys if k in lineage}
