"""A model server with no FastAPI at all (stdlib http.server) meets the contract through the helper."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from prometheus_client import CollectorRegistry

from serving.instrument import ServerInstrumentation

FEATURES = ("x", "y")


def make_handler(instr: ServerInstrumentation) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, *instr.render_metrics())
            else:
                self._send(404, b"{}")

        def do_POST(self) -> None:
            # Answer after the timed block, so the counters are final before the client sees the reply.
            with instr.request() as req:
                status, answer = self._predict(req)
            self._send(status, json.dumps(answer).encode())

        def _predict(self, req) -> tuple[int, dict]:
            try:
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                rows = [{f: float(r[f]) for f in FEATURES} for r in payload["rows"]]
            except (ValueError, KeyError, TypeError) as exc:
                req.error("bad_request")
                return 400, {"error": str(exc)}
            # The "model": positive class when x + y > 0.
            preds = [int(r["x"] + r["y"] > 0) for r in rows]
            ids = [f"{payload['id']}-{i}" for i in range(len(rows))]
            instr.log_predictions(ids, rows, preds, None, instr.version or "0")
            req.rows = len(rows)
            return 200, {"predictions": preds, "request_ids": ids}

    return Handler


@pytest.fixture
def stdlib_server(tmp_path: Path):
    metrics = CollectorRegistry()
    instr = ServerInstrumentation("plain", prediction_log_dir=tmp_path / "log", registry=metrics)
    instr.set_version("5")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(instr))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", instr, metrics, tmp_path / "log"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)
        instr.close()


def test_stdlib_server_meets_the_contract(stdlib_server, promtool_check):
    url, instr, metrics, log_dir = stdlib_server
    ok = requests.post(
        url + "/predict", json={"id": "q", "rows": [{"x": 1, "y": 2}, {"x": -3, "y": 1}]}, timeout=10
    )
    assert ok.json() == {"predictions": [1, 0], "request_ids": ["q-0", "q-1"]}
    bad = requests.post(url + "/predict", json={"id": "r", "rows": [{"x": 1}]}, timeout=10)
    assert bad.status_code == 400

    labels = {"model": "plain"}
    assert metrics.get_sample_value("modelserver_requests_total", labels) == 2
    assert metrics.get_sample_value("modelserver_predictions_total", labels) == 2
    assert metrics.get_sample_value("modelserver_errors_total", {**labels, "kind": "bad_request"}) == 1
    assert metrics.get_sample_value("modelserver_request_duration_seconds_count", labels) == 2

    exposition = requests.get(url + "/metrics", timeout=10)
    assert 'modelserver_model_info{model="plain",version="5"} 1.0' in exposition.text
    promtool_check(exposition.content)

    (log_file,) = log_dir.iterdir()
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [(r["request_id"], r["prediction"], r["version"], r["features"]) for r in records] == [
        ("q-0", 1, "5", {"x": 1.0, "y": 2.0}),
        ("q-1", 0, "5", {"x": -3.0, "y": 1.0}),
    ]
    assert all("proba" not in r for r in records)
