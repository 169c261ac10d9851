"""The distill step: a smaller student learns from the champion, with or without its weights."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from reoptimize.families.mlp_family import student_widths
from reoptimize.steps.distill_step import DistillStep
from reoptimize.train.distill import soft_targets
from tests.support.reopt_steps import measure_on_holdout, step_input

DIGITS = tuple(f"px{i}" for i in range(64))


def test_a_student_a_quarter_the_width_keeps_most_of_the_accuracy(wide_registry, wide_recipe, digits):
    traffic = digits.iloc[1200:1500][list(DIGITS)].assign(_source="unlabelled")
    inp = step_input(wide_registry, "wide", wide_recipe, DIGITS, {"distill": {"width": 0.25}}, traffic)
    # The teacher is used as ONNX only: a model registered without torch weights can teach too.
    inp = replace(inp, current=replace(inp.current, weights=None))
    out = DistillStep().run(inp)
    info = out.info
    assert info["student_hidden"] == [64, 64] and info["teacher_params"] == {"hidden": [256, 256]}
    assert info["transfer_rows"] == {"labelled": len(inp.train), "unlabelled": 300}
    assert info["val_agreement_with_teacher"] > 0.9
    assert info["export"]["max_abs_diff"] <= info["export"]["tolerance"]
    measured = measure_on_holdout(
        wide_registry,
        "wide",
        {"teacher": inp.current.onnx_bytes, "student": out.candidate.onnx_bytes},
        DIGITS,
        range(10),
    )
    assert measured["student"].holdout_accuracy >= measured["teacher"].holdout_accuracy - 0.04
    assert measured["student"].model_size_bytes < measured["teacher"].model_size_bytes / 6


def test_explicit_student_shape_and_depth(wide_registry, wide_recipe):
    out = DistillStep().run(
        step_input(
            wide_registry, "wide", wide_recipe, DIGITS, {"distill": {"hidden": [24], "use_traffic": False}}
        )
    )
    assert out.info["student_hidden"] == [24]
    assert out.candidate.stats["params"] == {"hidden": [24]}
    assert student_widths({"hidden": [256, 128]}, 0.5, 3) == [128, 64, 64]
    assert student_widths({}, 0.25, None) == [16]


def test_soft_targets_soften_with_temperature():
    p = np.array([[0.9, 0.09, 0.01]], dtype=np.float32)
    assert np.allclose(soft_targets(p, 1.0), p, atol=1e-6)
    hot = soft_targets(p, 4.0)
    assert hot.sum() == pytest.approx(1.0) and hot[0, 0] < 0.9 and hot[0, 2] > 0.01


def test_a_regressor_can_be_distilled():
    from sklearn.datasets import load_diabetes

    from reoptimize.steps.step import StepInput
    from reoptimize.steps.torch_candidate import export_candidate
    from reoptimize.train.recipe import RecipeSpec
    from reoptimize.train.trainer import train_model

    data = load_diabetes()
    cols = tuple(f"d{i}" for i in range(10))
    frame = pd.DataFrame(data.data.astype(np.float32), columns=list(cols))
    frame["label"] = data.target.astype(np.float32)
    recipe = RecipeSpec.from_dict({"factory": "reoptimize.recipes.mlp:mlp", "task": "regression"})
    settings = replace(recipe.training, max_epochs=40, learning_rate=0.01)
    trained = train_model(
        recipe.factory, {"hidden": [64]}, frame[list(cols)].to_numpy(), frame["label"].to_numpy(),
        task="regression", training=settings,
    )  # fmt: skip
    teacher = export_candidate(trained, "champion", frame[list(cols)].to_numpy(), {})
    out = DistillStep().run(
        StepInput(teacher, frame, cols, "label", recipe, settings, {"distill": {"width": 0.25}})
    )
    assert out.info["student_hidden"] == [16]
    assert out.info["val_rmse_to_teacher"] < float(frame["label"].std())


def _labels_only_classifier(weights: np.ndarray) -> bytes:
    """A classifier graph whose only output is the label (ArgMax), as some converters emit."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    n_features = weights.shape[0]
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "W"], ["z"]),
            helper.make_node("ArgMax", ["z"], ["label"], axis=1, keepdims=0),
        ],
        "labels_only",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", n_features])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])],
        [numpy_helper.from_array(weights.astype(np.float32), "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def test_a_teacher_without_class_probabilities_is_refused_by_name():
    from reoptimize.steps.step import Candidate, StepError, StepInput
    from reoptimize.train.recipe import RecipeSpec

    rng = np.random.default_rng(0)
    cols = ("a", "b", "c")
    frame = pd.DataFrame(rng.standard_normal((60, 3)).astype(np.float32), columns=list(cols))
    frame["label"] = frame[list(cols)].to_numpy().argmax(axis=1)
    teacher = Candidate(
        name="champion",
        onnx_bytes=_labels_only_classifier(np.eye(3)),
        task="classification",
        classes=(0, 1, 2),
    )
    recipe = RecipeSpec.from_dict({"factory": "reoptimize.recipes.mlp:mlp", "task": "classification"})
    with pytest.raises(StepError, match="teacher champion gives labels only"):
        DistillStep().run(StepInput(teacher, frame, cols, "label", recipe, recipe.training, {}))
