from __future__ import annotations

import numpy as np
import pytest

from reoptimize.onnx.onnx_model import OnnxModel
from reoptimize.train.export import ExportError, export_onnx
from reoptimize.train.settings import TrainingSettings
from reoptimize.train.trainer import train_model
from reoptimize.train.weights import load_trained, weights_bytes


@pytest.fixture(scope="module")
def wine_model():
    from sklearn.datasets import load_wine

    data = load_wine()
    x, y = data.data.astype(np.float32), np.array(["cls_" + str(v) for v in data.target])
    trained = train_model(
        "reoptimize.recipes.mlp:mlp",
        {"hidden": [16]},
        x,
        y,
        task="classification",
        training=TrainingSettings(max_epochs=30, patience=30, learning_rate=0.01),
    )
    return trained, x, y


def test_export_matches_torch_and_takes_raw_features(wine_model):
    trained, x, y = wine_model
    result = export_onnx(trained, x.shape[1], sample=x)
    assert 0.0 <= result.max_abs_diff <= result.tolerance
    assert result.opset == 17
    model = OnnxModel(result.onnx_bytes, classes=trained.classes)
    for rows in (x[:1], x):  # the batch axis is dynamic
        pred = model.run(rows)
        assert pred.proba.shape == (len(rows), 3)
        assert np.allclose(pred.proba.sum(axis=1), 1.0, atol=1e-5)
    accuracy = np.mean(np.array(model.run(x).labels) == y)
    assert accuracy > 0.9, (
        "standardization must be inside the graph: raw wine features differ in scale by 1000x"
    )
    assert [o.name for o in model.session.get_outputs()] == ["probabilities"]


def test_a_tolerance_below_the_measured_difference_fails(wine_model):
    trained, x, _ = wine_model
    result = export_onnx(trained, x.shape[1], sample=x)
    assert result.max_abs_diff > 0, "precondition: ONNX Runtime and torch round differently on these rows"
    with pytest.raises(ExportError, match="exceeds tolerance"):
        export_onnx(trained, x.shape[1], sample=x, tolerance=result.max_abs_diff / 2)


def test_a_trace_that_froze_a_value_is_caught():
    import torch

    from reoptimize.train.trainer import TrainedModel

    class FrozenMean(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 2)

        def forward(self, x):
            return self.linear(x) * float(x.abs().mean())  # becomes a constant in the trace

    trained = TrainedModel(
        module=FrozenMean().eval(),
        task="classification",
        classes=(0, 1),
        feature_mean=np.zeros(4, dtype=np.float32),
        feature_std=np.ones(4, dtype=np.float32),
        factory="test:frozen",
        params={},
    )
    sample = np.random.default_rng(0).normal(scale=3.0, size=(64, 4)).astype(np.float32)
    with pytest.raises(ExportError, match="max abs difference"):
        export_onnx(trained, 4, sample=sample)


def test_regression_export_outputs_values_in_target_units():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3)).astype(np.float32)
    y = (500.0 + 40.0 * x[:, 1]).astype(np.float32)
    trained = train_model(
        "reoptimize.recipes.mlp:mlp",
        {"hidden": [16]},
        x,
        y,
        task="regression",
        training=TrainingSettings(max_epochs=60, patience=60, learning_rate=0.01),
    )
    result = export_onnx(trained, 3, sample=x)
    model = OnnxModel(result.onnx_bytes, task="regression")
    values = np.asarray(model.run(x).labels)
    assert [o.name for o in model.session.get_outputs()] == ["value"]
    assert np.sqrt(np.mean((values - y) ** 2)) < 10.0


def test_weights_round_trip_through_safetensors(wine_model):
    trained, x, _ = wine_model
    blob = weights_bytes(trained)
    assert blob[:8] != b"\x80\x04\x95" and b"pickle" not in blob[:200]  # not a pickle
    rebuilt = load_trained(blob, trained.stats_json(), task="classification", classes=trained.classes)
    a = OnnxModel(export_onnx(trained, 13, sample=x).onnx_bytes).run(x).proba
    b = OnnxModel(export_onnx(rebuilt, 13, sample=x).onnx_bytes).run(x).proba
    assert np.array_equal(a, b)


def test_wrong_width_is_refused(wine_model):
    trained, _, _ = wine_model
    with pytest.raises(ExportError, match="trained on 13 features, not 12"):
        export_onnx(trained, 12)
