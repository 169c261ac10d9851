from __future__ import annotations

import numpy as np
import onnx

from reoptimize.onnx.graph_opt import fuse_standardization
from reoptimize.onnx.onnx_model import OnnxModel
from tests.support.onnx_models import linear_classifier


def _ops(data: bytes) -> list[str]:
    return [n.op_type for n in onnx.load_from_string(data).graph.node]


def test_exported_models_standardize_in_one_node_with_the_same_answers(champion_registry, digits):
    data = champion_registry.read_bytes("digits", "1", "model.onnx")
    ops = _ops(data)
    assert ops[0] == "BatchNormalization" and "Sub" not in ops and "Div" not in ops
    assert fuse_standardization(data) == data, "fusing twice changes nothing"


def test_fusing_an_old_sub_div_graph_keeps_its_outputs():
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = rng.normal(size=(4, 3)).astype(np.float32)
    model = onnx.load_from_string(linear_classifier(weights))
    graph = model.graph
    mean, std = rng.normal(size=4).astype(np.float32), rng.uniform(0.5, 3, size=4).astype(np.float32)
    graph.initializer.extend([numpy_helper.from_array(mean, "mean"), numpy_helper.from_array(std, "std")])
    graph.node[0].input[0] = "standardized"
    graph.node.insert(0, helper.make_node("Div", ["centred", "std"], ["standardized"]))
    graph.node.insert(0, helper.make_node("Sub", ["features", "mean"], ["centred"]))
    old = model.SerializeToString()
    new = fuse_standardization(old)
    assert _ops(old)[:2] == ["Sub", "Div"] and _ops(new)[0] == "BatchNormalization"
    x = rng.normal(size=(50, 4)).astype(np.float32) * 3
    a = OnnxModel(old, classes=(0, 1, 2)).run(x).proba
    b = OnnxModel(new, classes=(0, 1, 2)).run(x).proba
    assert np.max(np.abs(a - b)) < 1e-5


def test_graphs_without_the_pattern_are_left_alone():
    data = linear_classifier(np.eye(3, dtype=np.float32))
    assert fuse_standardization(data) == data
