"""The torch side of a candidate: its trained module, rebuilt from weights when needed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from reoptimize.steps.step import Candidate, StepError
from reoptimize.train.trainer import TrainedModel


def trained_of(candidate: Candidate, step: str) -> TrainedModel:
    """The candidate's :class:`TrainedModel`: the one a previous step trained, or one rebuilt
    from ``weights.safetensors`` and the manifest statistics. Raises :class:`StepError` for a
    model that exists only as ONNX (registered by a user without torch weights).

    A quantized champion keeps the weights of its float source, so a job may prune or
    distill from them; a candidate quantized earlier in the same pipeline may not go back
    to torch, since that would silently undo the quantization."""
    if "quantization" in candidate.stats and candidate.name != "champion":
        raise StepError(
            f"{step} cannot follow quantize ({candidate.name}); put quantize last in the pipeline"
        )
    if candidate.trained is not None:
        return candidate.trained
    if candidate.weights is None or "factory" not in candidate.stats:
        raise StepError(
            f"{step} needs the model's torch weights, and {candidate.name} has none "
            "(it was registered as ONNX only); use quantize or distill, which work from ONNX"
        )
    from reoptimize.train.weights import load_trained

    try:
        return load_trained(
            candidate.weights, candidate.stats, task=candidate.task, classes=candidate.classes
        )
    except Exception as exc:  # safetensors, the factory and load_state_dict raise many types
        raise StepError(f"{step}: cannot rebuild {candidate.name} from its weights ({exc})") from None


def with_module(
    trained: TrainedModel, module: Any, *, factory: str, params: dict[str, Any], **changes: Any
) -> TrainedModel:
    """A copy of ``trained`` holding ``module``, rebuildable as ``factory(**params)``."""
    return replace(trained, module=module, factory=factory, params=dict(params), **changes)


def parameter_count(module: Any) -> int:
    return int(sum(p.numel() for p in module.parameters()))


EXPORT_SAMPLE_ROWS = 256


def export_sample(x: np.ndarray, rows: int = EXPORT_SAMPLE_ROWS) -> np.ndarray:
    """Evenly spaced rows of ``x`` for the export's numeric check."""
    x = np.asarray(x, dtype=np.float32)
    picked: np.ndarray = x[np.linspace(0, len(x) - 1, num=min(len(x), rows)).astype(int)]
    return picked


def export_candidate(
    trained: TrainedModel,
    name: str,
    x: np.ndarray,
    info: dict[str, Any],
    *,
    tolerance: float | None = None,
) -> Candidate:
    """Export ``trained`` to ONNX (checked against torch on rows of ``x``) as a candidate with weights."""
    from reoptimize.train.export import DEFAULT_TOLERANCE, export_onnx
    from reoptimize.train.weights import weights_bytes

    export = export_onnx(
        trained,
        trained.n_features,
        sample=export_sample(x),
        tolerance=DEFAULT_TOLERANCE if tolerance is None else tolerance,
    )
    info = {**info, "export": export.to_json()}
    return Candidate(
        name=name,
        onnx_bytes=export.onnx_bytes,
        task=trained.task,
        classes=trained.classes,
        weights=weights_bytes(trained),
        stats={**trained.stats_json(), "export": export.to_json()},
        trained=trained,
        info=info,
    )
