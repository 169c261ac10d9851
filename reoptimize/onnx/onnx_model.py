"""One way to run an ONNX model, shared by the server and the evaluator so both read outputs alike.

The model contract: the first graph input takes float32 ``[N, F]`` in the manifest's feature
order. Outputs are interpreted as follows:

* a float output of shape ``[N, C]`` with ``C > 1`` holds class probabilities;
* an integer or string output of shape ``[N]`` holds predicted labels (as scikit-learn's
  converters emit); a ``seq(map)`` of probabilities is also understood;
* for regression, a float output of shape ``[N]`` or ``[N, 1]`` holds the value.

Classifiers trained by modelhealthd output ``probabilities`` only, and the manifest's
``classes`` map a column index to the label value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from reoptimize.tasks.task import Prediction, Task, TaskError, task_named

__all__ = ["OnnxModel", "OnnxModelError", "Prediction"]


class OnnxModelError(Exception):
    """The ONNX file cannot be loaded or its outputs do not fit the model contract."""


class OnnxModel:
    """A loaded ONNX Runtime session plus the manifest facts needed to read its outputs."""

    def __init__(
        self,
        model_bytes: bytes,
        *,
        task: str | Task = "classification",
        classes: Sequence[Any] = (),
        threads: int = 1,
        source: str = "model.onnx",
        memory_arena: bool = True,
    ):
        import onnxruntime as ort

        try:
            self.task = task_named(task)  # how the outputs read: see reoptimize.tasks
        except TaskError as exc:
            raise OnnxModelError(f"{source}: {exc}") from None

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # A long-lived session that runs rarely (the daemon's drift impact) gives its memory back.
        options.enable_cpu_mem_arena = memory_arena
        try:
            self.session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise OnnxModelError(f"{source}: ONNX Runtime cannot load it ({exc})") from None
        self.classes = list(classes)
        self.source = source
        first = self.session.get_inputs()[0]
        self.input_name = first.name
        shape = first.shape
        self.n_features = shape[1] if len(shape) == 2 and isinstance(shape[1], int) else None
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(self, features: np.ndarray) -> Prediction:
        x = np.ascontiguousarray(features, dtype=np.float32)
        if x.ndim != 2:
            raise OnnxModelError(f"{self.source}: expected a 2-D feature array, got shape {x.shape}")
        if self.n_features is not None and x.shape[1] != self.n_features:
            raise OnnxModelError(
                f"{self.source}: expected {self.n_features} features per row, got {x.shape[1]}"
            )
        outputs = self.session.run(None, {self.input_name: x})
        return self._interpret(outputs, len(x))

    def _interpret(self, outputs: list[Any], n: int) -> Prediction:
        try:
            prediction = self.task.read_outputs(outputs, n, self.classes)
        except TaskError as exc:
            raise OnnxModelError(f"{self.source}: {exc}") from None
        if not self.classes and prediction.classes:
            self.classes = list(prediction.classes)  # a seq(map) output names the classes
        return prediction
