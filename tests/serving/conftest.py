"""Fixtures for the serving tests: a tiny real ONNX classifier in a real file registry, served by uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from prometheus_client import CollectorRegistry

from reoptimize.registry.file_registry import FileRegistry
from serving.app import create_app
from serving.server import ServerThread

MODEL = "tiny"
FEATURES = ("f0", "f1", "f2", "f3")
CLASSES = ("setosa", "versicolor", "virginica")
TOKEN = "test-reload-token"

# v1 maps f0, f1, f2 to classes 0, 1, 2; v2 maps them the other way round, so a row tells them apart.
WEIGHTS_V1 = np.array([[4, 0, 0], [0, 4, 0], [0, 0, 4], [0, 0, 0]], dtype=np.float32)
WEIGHTS_V2 = WEIGHTS_V1[:, ::-1].copy()


def build_classifier(weights: np.ndarray, n_features: int | None = None) -> bytes:
    """MatMul + Add + Softmax over float32 [N, F] giving probabilities [N, C]."""
    n_features = n_features or weights.shape[0]
    n_classes = weights.shape[1]
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["input", "W"], ["z"]),
            helper.make_node("Add", ["z", "B"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", n_features])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", n_classes])],
        [
            numpy_helper.from_array(weights.astype(np.float32), "W"),
            numpy_helper.from_array(np.zeros(n_classes, dtype=np.float32), "B"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def add_version(root: Path, model_bytes: bytes, features: tuple[str, ...] = FEATURES) -> str:
    manifest = FileRegistry(root).add_version(
        MODEL, {"model.onnx": model_bytes}, features=features, classes=CLASSES
    )
    return manifest.version


@pytest.fixture
def registry_root(tmp_path: Path) -> Path:
    """A registry with v1 (production) and v2 of the tiny model."""
    root = tmp_path / "registry"
    add_version(root, build_classifier(WEIGHTS_V1))
    add_version(root, build_classifier(WEIGHTS_V2))
    FileRegistry(root).set_production(MODEL, "1")
    return root


@dataclass
class RunningServer:
    url: str
    root: Path
    predictions: Path
    metrics: CollectorRegistry
    model: str = MODEL
    features: tuple[str, ...] = FEATURES
    classes: tuple[str, ...] = CLASSES
    token: str = TOKEN

    def sample(self, name: str, **labels: str) -> float:
        value = self.metrics.get_sample_value(name, {"model": MODEL, **labels})
        assert value is not None, f"no sample {name} {labels}"
        return value

    @staticmethod
    def row(f0: float = 0.0, f1: float = 0.0, f2: float = 0.0, f3: float = 0.0) -> dict[str, float]:
        return {"f0": f0, "f1": f1, "f2": f2, "f3": f3}

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def add_version(self, model_bytes: bytes, features: tuple[str, ...] = FEATURES) -> str:
        return add_version(self.root, model_bytes, features)

    def set_production(self, version: str) -> None:
        FileRegistry(self.root).set_production(MODEL, version)


@pytest.fixture
def make_classifier():
    """``make_classifier(weights)`` builds ONNX bytes; ``make_classifier("v1")``/``("v2")`` the two versions."""

    def make(weights: np.ndarray | str) -> bytes:
        if isinstance(weights, str):
            weights = {"v1": WEIGHTS_V1, "v2": WEIGHTS_V2}[weights]
        return build_classifier(weights)

    return make


@pytest.fixture
def server(registry_root: Path, tmp_path: Path) -> Iterator[RunningServer]:
    metrics = CollectorRegistry()
    predictions = tmp_path / "predictions"
    app = create_app(
        registry_root, MODEL, predictions_dir=predictions, token=TOKEN, max_rows=50, metrics_registry=metrics
    )
    with ServerThread(app) as running:
        yield RunningServer(running.url, registry_root, predictions, metrics)


@pytest.fixture
def promtool_check():
    """``promtool_check(exposition_bytes)`` asserts that ``promtool check metrics`` finds nothing."""
    import subprocess

    from tests.support.binaries import require

    promtool = require("promtool")

    def check(exposition: bytes) -> None:
        done = subprocess.run(
            [promtool, "check", "metrics"], input=exposition, capture_output=True, timeout=60
        )
        findings = (done.stdout + done.stderr).decode()
        assert done.returncode == 0, f"promtool check metrics exited {done.returncode}: {findings}"
        assert findings.strip() == "", findings

    return check
