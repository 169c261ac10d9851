"""The prune step on real models: digits (64-256-256-10) and breast cancer (30-128-128-2)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from reoptimize.steps.prune_step import PruneStep
from reoptimize.steps.step import StepError
from tests.support.reopt_steps import (
    CANCER_FEATURES,
    CANCER_RECIPE,
    champion_of,
    measure_on_holdout,
    step_input,
)

DIGITS = tuple(f"px{i}" for i in range(64))


def _gemm_shapes(onnx_bytes: bytes) -> list[tuple[int, ...]]:
    model = onnx.load_from_string(onnx_bytes)
    inits = {i.name: tuple(i.dims) for i in model.graph.initializer}
    return [inits[n.input[1]] for n in model.graph.node if n.op_type == "Gemm"]


def test_structured_pruning_removes_neurons_and_the_graph_gets_smaller_and_faster(wide_registry, wide_recipe):
    events = []
    inp = step_input(
        wide_registry, "wide", wide_recipe, DIGITS, {"prune": {"amount": 0.75}}, progress=events.append
    )
    out = PruneStep().run(inp)
    info = out.info
    assert info["hidden_before"] == [256, 256] and info["hidden_after"] == [64, 64]
    assert _gemm_shapes(out.candidate.onnx_bytes) == [(64, 64), (64, 64), (10, 64)]
    assert info["parameters_after"] < info["parameters_before"] / 8
    assert info["size_ratio"] < 0.15 and info["speedup_batch"] > 1.5
    assert out.veto is None and not info.get("not_faster")
    assert info["fine_tune_epochs"] >= 1 and any(e.get("stage") == "fine_tune" for e in events)
    measured = measure_on_holdout(
        wide_registry,
        "wide",
        {"champion": inp.current.onnx_bytes, "pruned": out.candidate.onnx_bytes},
        DIGITS,
        range(10),
    )
    assert measured["pruned"].holdout_accuracy >= measured["champion"].holdout_accuracy - 0.03
    assert measured["pruned"].batch_latency_seconds < measured["champion"].batch_latency_seconds


def test_a_pruned_version_can_be_rebuilt_from_its_weights(wide_registry, wide_recipe):
    from reoptimize.onnx.onnx_model import OnnxModel
    from reoptimize.train.weights import load_trained

    out = PruneStep().run(step_input(wide_registry, "wide", wide_recipe, DIGITS, {"prune": {"amount": 0.5}}))
    c = out.candidate
    assert c.stats["factory"] == "reoptimize.recipes.mlp:mlp" and c.stats["params"]["hidden"] == [128, 128]
    rebuilt = load_trained(c.weights, c.stats, task=c.task, classes=c.classes)
    x = np.random.default_rng(0).uniform(0, 16, size=(32, 64)).astype(np.float32)
    import torch

    from reoptimize.train.trainer import standardized

    with torch.no_grad():
        expected = torch.softmax(rebuilt.module(standardized(rebuilt, x)), dim=1).numpy()
    got = OnnxModel(c.onnx_bytes, classes=c.classes).run(x).proba
    assert np.max(np.abs(got - expected)) < 1e-4


def test_unstructured_pruning_is_sparse_but_not_faster_and_says_so(wide_registry, wide_recipe):
    out = PruneStep().run(
        step_input(
            wide_registry, "wide", wide_recipe, DIGITS,
            {"prune": {"method": "unstructured", "amount": 0.8, "fine_tune_epochs": 3}},
        )
    )  # fmt: skip
    info = out.info
    assert info["sparsity"] == pytest.approx(0.8, abs=0.01)
    assert 0.95 < info["size_ratio"] < 1.05, "dense ONNX initializers keep every zero"
    assert info["not_faster"] is True
    assert out.veto.startswith("sparse but not faster") and "80% of the weights are zero" in out.veto


def test_structured_pruning_of_a_tabular_model(cancer_registry):
    inp = step_input(cancer_registry, "cancer", CANCER_RECIPE, CANCER_FEATURES, {"amount": 0.5})
    out = PruneStep().run(inp)
    assert out.info["hidden_after"] == [64, 64]
    measured = measure_on_holdout(
        cancer_registry,
        "cancer",
        {"champion": inp.current.onnx_bytes, "pruned": out.candidate.onnx_bytes},
        CANCER_FEATURES,
        (0, 1),
        latency_runs=100,
    )
    assert measured["pruned"].holdout_accuracy >= measured["champion"].holdout_accuracy - 0.05


def test_models_without_weights_or_of_other_shapes_are_refused_with_a_reason(wide_registry, wide_recipe):
    from dataclasses import replace

    import torch

    from reoptimize.families.mlp_family import mlp_shape

    inp = step_input(wide_registry, "wide", wide_recipe, DIGITS)
    no_weights = replace(inp, current=replace(champion_of(wide_registry, "wide"), weights=None))
    with pytest.raises(StepError, match="needs the model's torch weights"):
        PruneStep().run(no_weights)
    odd = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    with pytest.raises(StepError, match="layer 1 is Tanh"):
        mlp_shape(odd)
    with pytest.raises(ValueError, match="with.prune.amount: got 1.5"):
        PruneStep().run(replace(inp, params={"prune": {"amount": 1.5}}))
    with pytest.raises(StepError, match=r"with.prune: unknown setting\(s\) \['amout'\]"):
        PruneStep().run(replace(inp, params={"prune": {"amout": 0.5}}))
