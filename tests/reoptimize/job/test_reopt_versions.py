from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reoptimize.job.first_versions import VersionError, register_version, train_first_version
from reoptimize.registry.backends import open_registry
from reoptimize.train.reference_frames import read_parquet_bytes
from reoptimize.train.tables import DataError


def test_first_version_is_production_with_a_holdout_it_never_trained_on(champion_registry, features):
    registry = champion_registry
    assert registry.versions("digits") == ["1"] and registry.production("digits") == "1"
    manifest = registry.verify("digits", "1")
    assert manifest.classes == tuple(range(10)) and manifest.features == features
    assert set(manifest.files) == {
        "model.onnx",
        "reference.parquet",
        "holdout.parquet",
        "weights.safetensors",
        "model_card.md",
        "model_card.json",
    }
    holdout = read_parquet_bytes(registry.read_bytes("digits", "1", "holdout.parquet"))
    reference = read_parquet_bytes(registry.read_bytes("digits", "1", "reference.parquet"))
    assert not set(holdout.index) & set(reference.index)
    assert len(holdout) + len(reference) == 1000
    assert manifest.metrics["holdout_accuracy"] > 0.9
    assert manifest.metrics["holdout_rows"] == len(holdout)
    assert reference["_confidence"].between(0, 1).all()
    assert {"feature_mean", "feature_std", "factory", "export"} <= set(manifest.extra)


def test_first_version_refuses_a_model_that_has_versions(champion_registry, digits, recipe, features):
    with pytest.raises(VersionError, match="already has versions"):
        train_first_version(champion_registry, "digits", recipe, digits, features, "label")


def logistic_onnx(weights: np.ndarray, bias: np.ndarray) -> bytes:
    """A hand-built ONNX classifier (MatMul, Add, Softmax), as a user might bring one."""
    from onnx import TensorProto, helper, numpy_helper

    n_features, n_classes = weights.shape
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "W"], ["z"]),
            helper.make_node("Add", ["z", "b"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        "logistic",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", n_features])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", n_classes])],
        [
            numpy_helper.from_array(weights.astype(np.float32), "W"),
            numpy_helper.from_array(bias.astype(np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.fixture(scope="module")
def wine():
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_wine()
    cols = tuple(f"w{i}" for i in range(13))
    df = pd.DataFrame(data.data.astype(np.float32), columns=list(cols))
    df["label"] = [["red", "rose", "white"][t] for t in data.target]
    fitted = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(
        df[list(cols)], df["label"]
    )
    scaler, lr = fitted[0], fitted[1]
    weights = (lr.coef_ / scaler.scale_).T
    bias = lr.intercept_ - (lr.coef_ * scaler.mean_ / scaler.scale_).sum(axis=1)
    return df, cols, logistic_onnx(weights, bias)


def test_register_version_splits_a_holdout_and_sets_production(tmp_path, wine):
    df, cols, blob = wine
    registry = open_registry(tmp_path)
    first = register_version(registry, "wine", blob, df, cols, "label", "classification")
    assert first.version == "1" and registry.production("wine") == "1"
    assert first.classes == ("red", "rose", "white")
    assert first.metrics["holdout_accuracy"] > 0.9
    reference = read_parquet_bytes(registry.read_bytes("wine", "1", "reference.parquet"))
    holdout = read_parquet_bytes(registry.read_bytes("wine", "1", "holdout.parquet"))
    assert not set(reference.index) & set(holdout.index)
    assert (reference["_prediction"] == reference["label"]).mean() > 0.9

    second = register_version(
        registry,
        "wine",
        blob,
        df.drop(columns="label"),
        cols,
        "label",
        "classification",
        classes=first.classes,
    )
    assert second.version == "2" and second.parent == "1"
    assert registry.production("wine") == "1", "an existing production version is never switched"
    assert registry.read_bytes("wine", "2", "holdout.parquet") == registry.read_bytes(
        "wine", "1", "holdout.parquet"
    )
    assert second.metrics["holdout_accuracy"] == first.metrics["holdout_accuracy"]


def test_register_version_refuses_what_does_not_fit(tmp_path, wine):
    df, cols, blob = wine
    registry = open_registry(tmp_path)
    with pytest.raises(VersionError, match="ONNX Runtime cannot load it"):
        register_version(registry, "wine", b"not onnx", df, cols, "label", "classification")
    with pytest.raises(VersionError, match="takes 13 features; 12 were given"):
        register_version(registry, "wine", blob, df, cols[:12], "label", "classification")
    with pytest.raises(VersionError, match="outputs 3 probabilities for 2 classes"):
        register_version(
            registry, "wine", blob, df, cols, "label", "classification", classes=("red", "white")
        )
    with pytest.raises(DataError, match="label 'label' is needed"):
        register_version(registry, "wine", blob, df.drop(columns="label"), cols, "label", "classification")
    assert registry.versions("wine") == []
