"""Permutation impact with a real ONNX model: ignored features have none, labels give accuracy drops."""

from __future__ import annotations

import numpy as np

from monitor.check.impact import permutation_impact
from reoptimize.onnx.onnx_model import OnnxModel
from tests.support.onnx_models import linear_classifier


def _model() -> OnnxModel:
    return OnnxModel(linear_classifier(np.array([[-4.0, 4.0], [-1.0, 1.0], [0.0, 0.0]])), classes=[0, 1])


def test_impact_without_labels_is_the_share_of_changed_predictions() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 3))
    result = permutation_impact(_model(), x, ("a", "b", "c"), ["c", "a", "b"], None, max_rows=500, seed=1)
    impacts = {f.feature: f.impact for f in result.features}
    assert result.basis == "prediction_change" and result.rows == 500
    assert impacts["c"] == 0.0 and impacts["a"] > impacts["b"] > 0
    assert result.largest == impacts["a"]
    again = permutation_impact(_model(), x, ("a", "b", "c"), ["c", "a", "b"], None, max_rows=500, seed=1)
    assert again == result  # seeded: the same sample and permutations


def test_impact_with_labels_is_the_accuracy_drop() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(800, 3))
    labels = [int(a > 0) if i % 2 else None for i, a in enumerate(x[:, 0])]  # half the rows labelled
    model = _model()
    result = permutation_impact(model, x, ("a", "b", "c"), ["a", "c"], labels, max_rows=800)
    impacts = {f.feature: f.impact for f in result.features}
    assert result.basis == "accuracy_drop" and impacts["c"] == 0.0
    labelled = np.array([label is not None for label in labels])
    base = np.mean(
        np.array(model.run(x[labelled].astype(np.float32)).labels)
        == np.array([y for y in labels if y is not None])
    )
    assert 0.3 < impacts["a"] <= base  # a shuffled decider falls to about chance


def test_rows_with_missing_values_are_left_out() -> None:
    x = np.full((10, 3), np.nan)
    assert permutation_impact(_model(), x, ("a", "b", "c"), ["a"], None) is None
    x[:4] = 1.0
    assert permutation_impact(_model(), x, ("a", "b", "c"), ["a"], None).rows == 4


def test_regression_impact_uses_the_reference_spread() -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        "reg",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
        [numpy_helper.from_array(np.array([[2.0], [0.001]], dtype=np.float32), "W")],
    )
    model = OnnxModel(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString(),
        task="regression",
    )
    x = np.random.default_rng(2).normal(size=(400, 2))
    result = permutation_impact(model, x, ("a", "b"), ["a", "b"], None, prediction_std=2.0)
    impacts = {f.feature: f.impact for f in result.features}
    assert impacts["b"] == 0.0 and impacts["a"] > 0.8
    truth = list(2.0 * x[:, 0])
    labelled = permutation_impact(model, x, ("a", "b"), ["a"], truth)
    assert labelled.basis == "rmse_increase" and labelled.features[0].impact > 10
    assert onnx  # the graph above was built with the onnx package
