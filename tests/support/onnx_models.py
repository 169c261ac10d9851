"""Tiny, real ONNX models built with onnx.helper, for tests that need no training."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def linear_classifier(
    weights: np.ndarray, bias: np.ndarray | None = None, input_name: str = "features"
) -> bytes:
    """MatMul + Add + Softmax over float32 [N, F], giving probabilities [N, C]."""
    n_features, n_classes = weights.shape
    bias = np.zeros(n_classes, dtype=np.float32) if bias is None else bias
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", [input_name, "W"], ["z"]),
            helper.make_node("Add", ["z", "B"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        "linear",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["N", n_features])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", n_classes])],
        [
            numpy_helper.from_array(weights.astype(np.float32), "W"),
            numpy_helper.from_array(bias.astype(np.float32), "B"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()
