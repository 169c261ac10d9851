"""Export a trained model to ONNX, check the export numerically, and save its weights.

The exported graph is ``standardize -> user module -> softmax`` for classifiers (output
``probabilities`` [N, C]) or ``standardize -> user module -> unscale`` for regressors (output
``value`` [N]), with input ``features`` float32 [N, F] and a dynamic batch axis. The
standardization is one ``BatchNormalization`` node (see :mod:`reoptimize.onnx.graph_opt`); the
numeric check runs on that final graph.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from reoptimize.tasks.task import task_named
from reoptimize.train.trainer import TrainedModel

DEFAULT_OPSET = 17
DEFAULT_TOLERANCE = 1e-4


class ExportError(RuntimeError):
    """The ONNX export failed or does not reproduce the torch model within tolerance."""


@dataclass(frozen=True)
class ExportResult:
    onnx_bytes: bytes
    max_abs_diff: float
    tolerance: float
    opset: int

    def to_json(self) -> dict[str, Any]:
        return {"max_abs_diff": self.max_abs_diff, "tolerance": self.tolerance, "opset": self.opset}


def serving_module(trained: TrainedModel) -> Any:
    """The torch module that the ONNX graph holds: raw features in, probabilities/values out."""
    import torch

    task = task_named(trained.task)

    class Serving(torch.nn.Module):
        # Registered buffers, declared so that mypy knows them as tensors, not Module.__getattr__'s union.
        mean: torch.Tensor
        std: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.inner = trained.module
            self.register_buffer("mean", torch.from_numpy(trained.feature_mean.astype(np.float32)))
            self.register_buffer("std", torch.from_numpy(trained.feature_std.astype(np.float32)))
            self.t_mean, self.t_std = float(trained.target_mean), float(trained.target_std)

        def forward(self, features: torch.Tensor) -> torch.Tensor:
            out = self.inner((features - self.mean) / self.std)
            head: torch.Tensor = task.serving_head(out, self.t_mean, self.t_std)
            return head

    return Serving().eval()


def export_onnx(
    trained: TrainedModel,
    n_features: int,
    *,
    sample: np.ndarray | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    opset: int = DEFAULT_OPSET,
) -> ExportResult:
    """Export with the TorchScript-based exporter, then compare ONNX Runtime with torch.

    The graph is traced on a neutral input (the training mean) and checked on ``sample``
    rows (default: 256 rows drawn around the training statistics), so a trace that froze
    data-dependent values shows up as a difference. Raises :class:`ExportError` when the
    largest absolute difference exceeds ``tolerance``.
    """
    import torch

    from reoptimize.onnx.onnx_model import OnnxModel

    if tolerance < 0:
        raise ExportError(f"tolerance {tolerance!r}: expected a number >= 0")
    if n_features != trained.n_features:
        raise ExportError(f"the model was trained on {trained.n_features} features, not {n_features}")
    module = serving_module(trained)
    output = task_named(trained.task).output_name
    dummy = torch.from_numpy(np.tile(trained.feature_mean.astype(np.float32), (2, 1)))
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter announces its own deprecation
            torch.onnx.export(
                module,
                (dummy,),
                # The legacy exporter (dynamo=False) writes to a file-like object too, though
                # the signature names only paths.
                buffer,  # type: ignore[arg-type]
                input_names=["features"],
                output_names=[output],
                dynamic_axes={"features": {0: "batch"}, output: {0: "batch"}},
                opset_version=opset,
                dynamo=False,
            )
    except Exception as exc:  # the exporter raises many types for unsupported modules
        raise ExportError(
            f"torch.onnx.export failed for {trained.factory} ({type(exc).__name__}: {exc})"
        ) from None
    from reoptimize.onnx.graph_opt import fuse_standardization

    onnx_bytes = fuse_standardization(buffer.getvalue())

    if sample is None:
        rng = np.random.default_rng(0)
        sample = trained.feature_mean + trained.feature_std * rng.standard_normal((256, n_features))
    sample = np.ascontiguousarray(sample, dtype=np.float32)
    try:
        runtime = OnnxModel(
            onnx_bytes, task=trained.task, classes=trained.classes, source=f"export of {trained.factory}"
        )
        got = runtime.session.run(None, {runtime.input_name: sample})[0]
    except Exception as exc:  # OnnxModelError or an ONNX Runtime failure
        raise ExportError(f"ONNX Runtime cannot run the exported model ({exc})") from None
    with torch.no_grad():
        expected = module(torch.from_numpy(sample)).numpy()
    if got.shape != expected.shape:
        raise ExportError(f"ONNX output shape {got.shape} differs from torch output shape {expected.shape}")
    diff = float(np.max(np.abs(got.astype(np.float64) - expected.astype(np.float64)))) if got.size else 0.0
    if not diff <= tolerance:
        raise ExportError(
            f"ONNX Runtime and torch disagree on {len(sample)} sample rows: max abs difference {diff:.3g} "
            f"exceeds tolerance {tolerance:.3g}"
        )
    return ExportResult(onnx_bytes=onnx_bytes, max_abs_diff=diff, tolerance=tolerance, opset=opset)
