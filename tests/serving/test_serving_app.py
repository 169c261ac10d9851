"""The reference server over real HTTP: predictions, refusals, metrics, readiness and the prediction log."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import requests
from prometheus_client import CollectorRegistry

from serving.app import create_app
from serving.server import ServerThread


def predict(server, payload, **kw) -> requests.Response:
    return requests.post(server.url + "/predict", json=payload, timeout=10, **kw)


def test_predict_returns_labels_probabilities_and_ids(server):
    rows = [server.row(f0=1), server.row(f1=1), server.row(f2=1)]
    resp = predict(server, {"rows": rows})
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert data["model"] == "tiny" and data["version"] == "1"
    assert data["predictions"] == list(server.classes)
    proba = np.array(data["probabilities"])
    assert proba.shape == (3, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert (proba.argmax(axis=1) == [0, 1, 2]).all()
    ids = data["request_ids"]
    assert len(set(ids)) == 3
    assert all(re.fullmatch(r"[0-9a-f]{32}-\d", i) for i in ids)
    assert [i.rsplit("-", 1)[1] for i in ids] == ["0", "1", "2"]


def test_ids_from_body_and_from_header(server):
    by_body = predict(server, {"rows": [server.row(), server.row()], "ids": ["a1", "a2"]}).json()
    assert by_body["request_ids"] == ["a1", "a2"]
    by_header = predict(
        server, {"rows": [server.row(), server.row()]}, headers={"X-Request-ID": "req-9"}
    ).json()
    assert by_header["request_ids"] == ["req-9-0", "req-9-1"]


def test_instances_in_manifest_order(server):
    data = predict(server, {"instances": [[0, 0, 1, 0], [1, 0, 0, 0]]}).json()
    assert data["predictions"] == ["virginica", "setosa"]


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        (b"{oops", 400, "not valid JSON"),
        ({"rows": [{"f0": 1, "f1": 2, "f2": 3}]}, 422, "rows[0]: feature 'f3' is missing"),
        ({"rows": [{"f0": 1, "f1": "two", "f2": 3, "f3": 4}]}, 422, 'rows[0].f1 = "two"'),
        (b'{"rows": [{"f0": NaN, "f1": 0, "f2": 0, "f3": 0}]}', 422, "rows[0].f0 = nan"),
        ({"instances": [[1, 2, 3]]}, 422, "instances[0] has 3 values; expected 4"),
        ({"rows": [{"f0": 0, "f1": 0, "f2": 0, "f3": 0}] * 51}, 413, "at most 50"),
        ({"rows": [{"f0": 0, "f1": 0, "f2": 0, "f3": 0}], "ids": ["a", "b"]}, 422, "ids has 2 entries"),
    ],
)
def test_bad_input_is_refused_counted_and_harmless(server, payload, status, fragment):
    before = server.sample("modelserver_errors_total", kind="bad_request")
    kw = {"data": payload} if isinstance(payload, bytes) else {"json": payload}
    resp = requests.post(server.url + "/predict", timeout=10, **kw)
    assert resp.status_code == status
    assert fragment in resp.json()["error"]
    assert server.sample("modelserver_errors_total", kind="bad_request") == before + 1
    after = predict(server, {"rows": [server.row(f0=1)]})
    assert after.status_code == 200 and after.json()["predictions"] == ["setosa"]


def test_bad_request_id_header_is_refused(server):
    resp = predict(server, {"rows": [server.row()]}, headers={"X-Request-ID": "x" * 300})
    assert resp.status_code == 400 and "X-Request-ID" in resp.json()["error"]


def test_oversized_body_is_refused_with_413(registry_root: Path):
    app = create_app(registry_root, "tiny", max_body_bytes=1000, metrics_registry=CollectorRegistry())
    with ServerThread(app) as running:
        rows = [{"f0": 0.123456789, "f1": 0, "f2": 0, "f3": 0}] * 40
        resp = requests.post(running.url + "/predict", json={"rows": rows}, timeout=10)
    assert resp.status_code == 413 and "limit of 1000 bytes" in resp.json()["error"]


def test_metrics_exposition_counts_requests_and_passes_promtool(server, promtool_check):
    count_before = server.sample("modelserver_request_duration_seconds_count")
    for _ in range(3):
        assert predict(server, {"rows": [server.row(), server.row()]}).status_code == 200
    predict(server, {"rows": "nope"})
    resp = requests.get(server.url + "/metrics", timeout=10)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    assert 'modelserver_model_info{model="tiny",version="1"} 1.0' in text
    assert re.search(r'^modelserver_predictions_total\{model="tiny"\} 6\.0$', text, re.M)
    assert re.search(r'^modelserver_requests_total\{model="tiny"\} 4\.0$', text, re.M)
    assert re.search(r'^modelserver_errors_total\{kind="bad_request",model="tiny"\} 1\.0$', text, re.M)
    assert "process_resident_memory_bytes" in text
    assert server.sample("modelserver_request_duration_seconds_count") == count_before + 4
    promtool_check(resp.content)


def test_health_and_readiness(server):
    assert requests.get(server.url + "/healthz", timeout=10).json() == {"status": "ok"}
    ready = requests.get(server.url + "/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["version"] == "1"


def test_prediction_log_lines_match_the_answers(server):
    answer = predict(
        server, {"rows": [server.row(f0=1, f3=0.25), server.row(f2=2)], "ids": ["p", "q"]}
    ).json()
    files = list(server.predictions.iterdir())
    assert len(files) == 1 and re.fullmatch(r"predictions-\d{4}-\d\d-\d\dT\d\d\.jsonl", files[0].name)
    records = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert [r["request_id"] for r in records] == ["p", "q"]
    assert records[0]["features"] == {"f0": 1.0, "f1": 0.0, "f2": 0.0, "f3": 0.25}
    assert [r["prediction"] for r in records] == answer["predictions"]
    assert [r["proba"] for r in records] == answer["probabilities"]
    assert {r["model"] for r in records} == {"tiny"} and {r["version"] for r in records} == {"1"}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", r["ts"]) for r in records)


def test_refused_requests_are_not_logged(server):
    predict(server, {"rows": [{"f0": "x"}]})
    assert not server.predictions.exists() or not any(server.predictions.iterdir())


def test_without_production_version_the_server_waits_for_a_reload(tmp_path: Path, make_classifier):
    from reoptimize.registry.backends import open_registry

    root = tmp_path / "empty-registry"
    metrics = CollectorRegistry()
    app = create_app(root, "tiny", token="t", metrics_registry=metrics)
    with ServerThread(app) as running:
        ready = requests.get(running.url + "/readyz", timeout=10)
        assert ready.status_code == 503 and "no production version" in ready.json()["reason"]
        resp = requests.post(running.url + "/predict", json={"instances": [[0, 0, 0, 0]]}, timeout=10)
        assert resp.status_code == 503 and "no production version" in resp.json()["error"]
        assert (
            metrics.get_sample_value("modelserver_errors_total", {"model": "tiny", "kind": "not_ready"}) == 1
        )

        registry = open_registry(root)
        registry.add_version("tiny", {"model.onnx": make_classifier("v1")}, features=("a", "b", "c", "d"))
        registry.set_production("tiny", "1")
        reload = requests.post(running.url + "/-/reload", headers={"Authorization": "Bearer t"}, timeout=10)
        assert reload.status_code == 200 and reload.json() == {
            "model": "tiny",
            "version": "1",
            "previous": None,
        }
        assert requests.get(running.url + "/readyz", timeout=10).status_code == 200
        resp = requests.post(running.url + "/predict", json={"instances": [[0, 1, 0, 0]]}, timeout=10)
        assert resp.status_code == 200 and resp.json()["predictions"] == [1]  # no classes: the column index


def test_a_large_batch_is_served(registry_root: Path):
    app = create_app(registry_root, "tiny", metrics_registry=CollectorRegistry())
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10000, 4))
    with ServerThread(app) as running:
        resp = requests.post(running.url + "/predict", json={"instances": x.tolist()}, timeout=60)
    assert resp.status_code == 200
    expected = np.array(["setosa", "versicolor", "virginica"])[(x[:, :3] * 4).argmax(axis=1)]
    assert resp.json()["predictions"] == expected.tolist()


def test_model_failure_is_a_500_counted_as_model_error(tmp_path: Path):
    """A model that runs on one row (the load check) but fails on two: Reshape to a fixed [1, 4]."""
    from onnx import TensorProto, helper, numpy_helper

    from reoptimize.registry.backends import open_registry

    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["input", "shape"], ["flat"]),
            helper.make_node("MatMul", ["flat", "W"], ["z"]),
            helper.make_node("Softmax", ["z"], ["probabilities"], axis=1),
        ],
        "fragile",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 2])],
        [
            numpy_helper.from_array(np.array([1, 4], dtype=np.int64), "shape"),
            numpy_helper.from_array(np.ones((4, 2), dtype=np.float32), "W"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    registry = open_registry(tmp_path)
    registry.add_version("fragile", {"model.onnx": model.SerializeToString()}, features=("a", "b", "c", "d"))
    registry.set_production("fragile", "1")
    metrics = CollectorRegistry()
    with ServerThread(create_app(tmp_path, "fragile", metrics_registry=metrics)) as running:
        one = requests.post(running.url + "/predict", json={"instances": [[1, 2, 3, 4]]}, timeout=10)
        two = requests.post(running.url + "/predict", json={"instances": [[1, 2, 3, 4]] * 2}, timeout=10)
    assert one.status_code == 200
    assert two.status_code == 500 and "fragile v1 failed to predict" in two.json()["error"]
    labels = {"model": "fragile", "kind": "model_error"}
    assert metrics.get_sample_value("modelserver_errors_total", labels) == 1
    assert metrics.get_sample_value("modelserver_predictions_total", {"model": "fragile"}) == 1


def test_a_failing_prediction_log_is_counted_but_the_answer_stands(registry_root: Path, tmp_path: Path):
    from serving.prediction_log_writer import log_file_name

    now = 1_900_000_000.0
    predictions = tmp_path / "preds"
    (predictions / log_file_name(now)).mkdir(parents=True)  # the hour's file cannot be opened
    metrics = CollectorRegistry()
    app = create_app(
        registry_root, "tiny", predictions_dir=predictions, metrics_registry=metrics, clock=lambda: now
    )
    with ServerThread(app) as running:
        resp = requests.post(running.url + "/predict", json={"instances": [[1, 0, 0, 0]]}, timeout=10)
    assert resp.status_code == 200 and resp.json()["predictions"] == ["setosa"]
    assert metrics.get_sample_value("modelserver_errors_total", {"model": "tiny", "kind": "log_error"}) == 1
