"""POST /-/reload: bearer auth, swapping versions, refusing bad versions, and no failed request meanwhile."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import requests


def reload(server, headers=None) -> requests.Response:
    return requests.post(server.url + "/-/reload", headers=headers, timeout=30)


def predict_f0(server) -> requests.Response:
    return requests.post(server.url + "/predict", json={"rows": [server.row(f0=1)]}, timeout=30)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (None, 401),
        ({"Authorization": "Bearer wrong-token"}, 403),
        ({"Authorization": "Basic dGVzdC1yZWxvYWQtdG9rZW4="}, 403),
        ({"Authorization": "Bearer"}, 403),
    ],
)
def test_reload_needs_the_right_bearer_token(server, headers, status):
    server.set_production("2")
    resp = reload(server, headers)
    assert resp.status_code == status
    assert server.token not in resp.text
    if status == 401:
        assert resp.headers["www-authenticate"] == "Bearer"
    assert predict_f0(server).json()["version"] == "1"
    assert server.sample("modelserver_reloads_total", outcome="unauthorized") == 1
    assert server.sample("modelserver_reloads_total", outcome="success") == 0


def test_reload_serves_the_new_production_version(server):
    assert predict_f0(server).json()["predictions"] == ["setosa"]
    server.set_production("2")
    resp = reload(server, server.auth())
    assert resp.status_code == 200
    assert resp.json() == {"model": "tiny", "version": "2", "previous": "1"}
    answer = predict_f0(server).json()
    assert answer["version"] == "2" and answer["predictions"] == ["virginica"]
    assert server.sample("modelserver_model_info", version="2") == 1
    assert (
        server.metrics.get_sample_value("modelserver_model_info", {"model": "tiny", "version": "1"}) is None
    )
    assert server.sample("modelserver_reloads_total", outcome="success") == 1
    assert requests.get(server.url + "/readyz", timeout=10).json()["version"] == "2"


def _assert_still_serving_v1(server, resp, fragment):
    assert resp.status_code == 409, resp.text
    body = resp.json()
    assert fragment in body["error"] and body["version"] == "1"
    assert predict_f0(server).json()["version"] == "1"
    assert server.sample("modelserver_reloads_total", outcome="failure") == 1
    assert server.sample("modelserver_model_info", version="1") == 1


def test_tampered_model_file_is_refused_and_old_version_kept(server):
    server.set_production("2")
    model_file = server.root / "tiny" / "versions" / "2" / "model.onnx"
    data = bytearray(model_file.read_bytes())
    data[-1] ^= 0xFF
    model_file.write_bytes(bytes(data))
    _assert_still_serving_v1(server, reload(server, server.auth()), "sha256")


def test_file_that_is_not_onnx_is_refused(server):
    version = server.add_version(b"this is not an ONNX model")
    server.set_production(version)
    _assert_still_serving_v1(server, reload(server, server.auth()), "ONNX Runtime cannot load")


def test_model_whose_inputs_disagree_with_the_manifest_is_refused(server, make_classifier):
    version = server.add_version(make_classifier(np.eye(5, 3, dtype=np.float32)), ("f0", "f1", "f2", "f3"))
    server.set_production(version)
    _assert_still_serving_v1(
        server, reload(server, server.auth()), "takes 5 features but the manifest lists 4"
    )


def test_missing_production_pointer_is_refused(server):
    (server.root / "tiny" / "production").unlink()
    _assert_still_serving_v1(server, reload(server, server.auth()), "no production version")


def test_requests_in_flight_during_reloads_never_fail(server):
    stop = threading.Event()
    results: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def client() -> None:
        session = requests.Session()
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            rows = [server.row(f0=1)] * 20
            resp = session.post(server.url + "/predict", json={"rows": rows}, timeout=30)
            version = resp.json().get("version") if resp.status_code == 200 else None
            with lock:
                results.append((resp.status_code, version))

    clients = [threading.Thread(target=client) for _ in range(4)]
    for t in clients:
        t.start()
    try:
        reload_codes = []
        for i in range(12):
            server.set_production("2" if i % 2 == 0 else "1")
            reload_codes.append(reload(server, server.auth()).status_code)
            # Let some requests land on each version before the next swap (bounded wait).
            with lock:
                seen = len(results)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with lock:
                    if len(results) >= seen + 4:
                        break
                time.sleep(0.005)
    finally:
        stop.set()
        for t in clients:
            t.join(60)
    assert reload_codes == [200] * 12
    assert results, "the clients sent nothing"
    assert {code for code, _ in results} == {200}
    assert {version for _, version in results} == {"1", "2"}
    assert server.sample("modelserver_errors_total", kind="internal") == 0
    assert server.sample("modelserver_errors_total", kind="model_error") == 0
