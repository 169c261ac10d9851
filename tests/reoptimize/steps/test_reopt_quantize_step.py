"""The quantize step with ONNX Runtime: dynamic and static QDQ int8, and the accuracy budget."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx
import pandas as pd
import pytest

from reoptimize.onnx.quantize import quantizable_nodes
from reoptimize.steps.quantize_step import QuantizeStep
from reoptimize.steps.step import StepError
from tests.support.reopt_steps import CANCER_FEATURES, CANCER_RECIPE, reference_rows, step_input

DIGITS = tuple(f"px{i}" for i in range(64))


def _ops(onnx_bytes: bytes) -> list[str]:
    return [n.op_type for n in onnx.load_from_string(onnx_bytes).graph.node]


@pytest.mark.parametrize("mode", ["dynamic", "static"])
def test_quantization_makes_the_model_four_times_smaller_within_the_budget(
    wide_registry, wide_recipe, digits, mode
):
    traffic = digits.iloc[1200:1500][list(DIGITS)]
    out = QuantizeStep().run(
        step_input(wide_registry, "wide", wide_recipe, DIGITS, {"quantize": {"mode": mode}}, traffic)
    )
    info = out.info
    assert out.veto is None and info["excluded_nodes"] == []
    assert info["size_ratio"] < 0.3
    assert info["check"]["loss"] <= info["accuracy_budget"] == 0.005
    assert len(info["quantized_nodes"]) == 3
    ops = _ops(out.candidate.onnx_bytes)
    if mode == "static":
        assert info["calibration"] == {"rows": 300, "source": "recent traffic", "method": "minmax"}
        assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    else:
        assert info["calibration"] is None and "MatMulInteger" in ops
    assert out.candidate.stats["quantization"]["mode"] == mode


def test_without_recent_traffic_static_calibrates_on_training_rows(cancer_registry):
    # A budget of 5 points is far above what int8 costs this model when calibrated on its own
    # training rows, so the whole graph is quantized: this test is about where calibration
    # comes from (excluding nodes is the next test's subject).
    out = QuantizeStep().run(
        step_input(
            cancer_registry, "cancer", CANCER_RECIPE, CANCER_FEATURES, {"quantize": {"accuracy_budget": 0.05}}
        )
    )
    assert out.info["calibration"]["source"] == "training rows"
    assert out.info["excluded_nodes"] == [] and out.veto is None
    assert out.info["check"]["loss"] <= 0.05


def test_nodes_that_cost_accuracy_are_excluded_until_the_budget_holds(wide_registry, wide_recipe):
    # Calibrating on blank images squeezes every activation range to almost nothing, so
    # quantizing any layer costs accuracy: the step must exclude layers and say which.
    blank = pd.DataFrame(np.zeros((200, 64), dtype=np.float32), columns=list(DIGITS))
    inp = step_input(
        wide_registry, "wide", wide_recipe, DIGITS, {"quantize": {"accuracy_budget": 0.01}}, blank
    )
    out = QuantizeStep().run(inp)
    info = out.info
    assert info["excluded_nodes"], info
    for item in info["excluded_nodes"]:
        assert item["node"] in quantizable_nodes(inp.current.onnx_bytes)
        assert item["cost_alone"] > 0 and "quantizing it alone costs" in item["why"]
    assert set(info["quantized_nodes"]).isdisjoint(e["node"] for e in info["excluded_nodes"])
    # Keeping the costliest layer in float is enough here: the budget holds, so no veto.
    assert out.veto is None and info["check"]["loss"] <= 0.01


def test_quantizing_twice_or_with_bad_settings_is_refused(wide_registry, wide_recipe):
    inp = step_input(wide_registry, "wide", wide_recipe, DIGITS, {"quantize": {"mode": "dynamic"}})
    once = QuantizeStep().run(inp).candidate
    with pytest.raises(StepError, match="already quantized"):
        QuantizeStep().run(replace(inp, current=once))
    with pytest.raises(StepError, match="with.quantize.mode: got 'int4'"):
        QuantizeStep().run(replace(inp, params={"quantize": {"mode": "int4"}}))
    with pytest.raises(StepError, match="with.quantize.calibration: got 'kl'"):
        QuantizeStep().run(replace(inp, params={"calibration": "kl"}))


def test_a_quantized_candidate_cannot_go_back_to_torch(wide_registry, wide_recipe):
    from reoptimize.steps.prune_step import PruneStep

    inp = step_input(wide_registry, "wide", wide_recipe, DIGITS)
    quantized = QuantizeStep().run(inp).candidate
    with pytest.raises(StepError, match="cannot follow quantize"):
        PruneStep().run(replace(inp, current=quantized))


def _diabetes_champion(hidden: list[int]):
    """A small regressor of scikit-learn's diabetes data, as a champion with no torch module loaded."""
    from sklearn.datasets import load_diabetes

    from reoptimize.steps.torch_candidate import export_candidate
    from reoptimize.train.recipe import RecipeSpec
    from reoptimize.train.trainer import train_model

    data = load_diabetes()
    cols = tuple(f"d{i}" for i in range(10))
    frame = pd.DataFrame(data.data.astype(np.float32), columns=list(cols))
    frame["label"] = data.target.astype(np.float32)
    recipe = RecipeSpec.from_dict(
        {"factory": "reoptimize.recipes.mlp:mlp", "params": {"hidden": hidden}, "task": "regression"}
    )
    trained = train_model(
        recipe.factory, {"hidden": hidden}, frame[list(cols)].to_numpy(), frame["label"].to_numpy(),
        task="regression", training=replace(recipe.training, max_epochs=30, learning_rate=0.01),
    )  # fmt: skip
    champion = replace(export_candidate(trained, "champion", frame[list(cols)].to_numpy(), {}), trained=None)
    return champion, frame, cols, recipe


def test_regression_models_use_a_relative_rmse_budget():
    from reoptimize.steps.step import StepInput

    champion, frame, cols, recipe = _diabetes_champion([32])
    out = QuantizeStep().run(
        StepInput(
            champion, frame, cols, "label", recipe, recipe.training, {"quantize": {"accuracy_budget": 0.02}}
        )
    )
    check = out.info["check"]
    assert check["metric"] == "rmse" and check["before"] > 0
    assert check["loss"] == pytest.approx((check["after"] - check["before"]) / check["before"])
    # Calibrated on its own training rows, int8 costs this regressor far less than 2% RMSE.
    assert out.veto is None and out.info["excluded_nodes"] == []


def test_a_regressor_over_its_rmse_budget_is_vetoed():
    from reoptimize.steps.step import StepInput

    # A linear model has one node, so nothing can be excluded; calibrating on blank rows squeezes
    # its input range to almost nothing, which costs far more than the 2% budget.
    champion, frame, cols, recipe = _diabetes_champion([])
    blank = pd.DataFrame(np.zeros((200, len(cols)), dtype=np.float32), columns=list(cols))
    inp = StepInput(
        champion, frame, cols, "label", recipe, recipe.training, {"quantize": {"accuracy_budget": 0.02}},
        traffic=blank,
    )  # fmt: skip
    out = QuantizeStep().run(inp)
    check = out.info["check"]
    assert len(out.info["quantized_nodes"]) == 1 and out.info["excluded_nodes"] == []
    assert check["loss"] == pytest.approx((check["after"] - check["before"]) / check["before"])
    assert check["loss"] > 0.02
    assert out.veto is not None and "budget is 0.02" in out.veto and "0 of 1 nodes excluded" in out.veto


def test_reference_rows_helper_sees_labels(wide_registry):
    assert "label" in reference_rows(wide_registry, "wide").columns
