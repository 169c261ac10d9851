"""The traffic replay: drift transforms, pacing, phases and delayed labels, against a real model server."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
import requests
import typer
from onnx import TensorProto, helper, numpy_helper
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from monitor.replay.drift_injection import DriftSpec, apply_drift, shift_images
from monitor.replay.label_delivery import FileLabelSink, HttpLabelSink, LabelDeliveryError, LabelRecord
from monitor.replay.traffic_replay import ReplayData, ReplayPlan, ReplayProgress, load_replay_data, run_replay
from reoptimize.registry.backends import open_registry
from serving.app import create_app
from serving.server import ServerThread

COLUMNS = ("f0", "f1", "f2", "f3")
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


# -- fixtures: a real server for a model that is exactly right on undrifted data -----------------
def tiny_classifier() -> bytes:
    """Softmax(4 * x[:, :3]): the class is the largest of f0, f1, f2."""
    weights = np.array([[4, 0, 0], [0, 4, 0], [0, 0, 4], [0, 0, 0]], dtype=np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["input", "W"], ["z"]),
            helper.make_node("Softmax", ["z"], ["p"], axis=1),
        ],
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(weights, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def make_data(n: int = 300, seed: int = 1) -> ReplayData:
    x = np.random.default_rng(seed).normal(size=(n, 4))
    return ReplayData(COLUMNS, x, tuple(int(i) for i in x[:, :3].argmax(axis=1)), "generated")


@pytest.fixture(scope="module")
def model_server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("registry")
    registry = open_registry(root)
    registry.add_version("tiny", {"model.onnx": tiny_classifier()}, features=COLUMNS, classes=(0, 1, 2))
    registry.set_production("tiny", "1")
    preds = root / "predictions"
    app = create_app(root, "tiny", predictions_dir=preds, metrics_registry=CollectorRegistry())
    with ServerThread(app) as server:
        yield server.url, preds


class LabelRecorder:
    """A stand-in daemon: a real HTTP server that records what is posted to /api/v1/labels."""

    def __init__(self, status: int = 202):
        self.posts: list[tuple[str, str | None, dict]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                recorder.posts.append((self.path, self.headers.get("Authorization"), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> LabelRecorder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


class FakeTime:
    """A monotonic clock that only moves when the replay waits, so pacing is exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.now += seconds


# -- drift transforms ------------------------------------------------------------------------
def test_shift_images_moves_the_writing_position():
    from sklearn.datasets import load_digits

    digits = load_digits().data[:50]
    moved = shift_images(digits, 2)
    grid, moved_grid = digits.reshape(-1, 8, 8), moved.reshape(-1, 8, 8)
    np.testing.assert_array_equal(moved_grid[:, :, 2:], grid[:, :, :-2])
    assert (moved_grid[:, :, :2] == 0).all()
    back = shift_images(shift_images(digits, -1, dy=1), 1, dy=-1).reshape(-1, 8, 8)
    np.testing.assert_array_equal(back[:, :-1, 1:], grid[:, :-1, 1:])
    assert (shift_images(digits, 8) == 0).all()
    assert not np.shares_memory(moved, digits)
    np.testing.assert_array_equal(shift_images(digits, 0), digits)


def test_shift_images_refuses_rows_that_are_not_square_images():
    with pytest.raises(ValueError, match="expected rows of 64 pixels"):
        shift_images(np.zeros((2, 10)), 1)


def test_apply_drift_kinds():
    x = np.random.default_rng(0).normal(size=(200, 4)) * [1, 2, 3, 4]
    std = x.std(axis=0)
    rng = np.random.default_rng(0)

    def drift(kind, features=(), amount=None):
        return apply_drift(x, COLUMNS, DriftSpec(kind, at_rows=0, features=features, amount=amount), std, rng)

    np.testing.assert_allclose(drift("scale", ("f1",), 3.0)[:, 1], x[:, 1] * 3)
    np.testing.assert_array_equal(drift("scale", ("f1",), 3.0)[:, [0, 2, 3]], x[:, [0, 2, 3]])
    np.testing.assert_allclose(drift("shift") - x, np.tile(std, (200, 1)))  # default: one std, all features
    noisy = drift("noise", ("f3",), 1.0)
    assert 0.7 < (noisy[:, 3] - x[:, 3]).std() / std[3] < 1.3
    np.testing.assert_array_equal(noisy[:, :3], x[:, :3])
    np.testing.assert_array_equal(drift("file"), x)
    with pytest.raises(ValueError, match="drift feature 'nope' is not a data column"):
        drift("shift", ("nope",))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"kind": "melt", "at_rows": 1}, "expected one of"),
        ({"kind": "shift"}, "exactly one of"),
        ({"kind": "shift", "at_rows": 1, "at_seconds": 1.0}, "exactly one of"),
        ({"kind": "shift", "at_seconds": -1.0}, ">= 0"),
        ({"kind": "image-shift", "at_rows": 1, "amount": 1.5}, "whole number"),
    ],
)
def test_drift_spec_validation(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        DriftSpec(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"rate": 0}, "rate"),
        ({"duration": None}, "duration or max_rows"),
        ({"duration": -1.0}, "duration"),
        ({"max_rows": 0}, "max_rows"),
        ({"label_delay": -1}, "label_delay"),
    ],
)
def test_plan_validation(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        ReplayPlan(url="http://127.0.0.1:1", **kwargs)


# -- data files ------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_load_replay_data(tmp_path: Path, suffix: str):
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4], "label": [0, 1]})
    path = tmp_path / f"data{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    data = load_replay_data(path)
    assert data.columns == ("a", "b") and data.labels == (0, 1)
    np.testing.assert_array_equal(data.features, [[1, 3], [2, 4]])
    assert load_replay_data(path, "other").labels is None


@pytest.mark.parametrize(
    ("frame", "fragment"),
    [
        (pd.DataFrame({"a": ["x", "y"]}), "column 'a' has dtype object; expected numbers"),
        (pd.DataFrame({"a": [1.0, None]}), "column 'a' has 1 missing values"),
    ],
)
def test_load_replay_data_refuses_unusable_columns(tmp_path: Path, frame, fragment):
    frame.to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(ValueError, match=re.escape(fragment)):
        load_replay_data(tmp_path / "d.csv")


def test_load_replay_data_names_a_missing_file(tmp_path: Path):
    with pytest.raises(ValueError, match="no such file"):
        load_replay_data(tmp_path / "absent.parquet")


# -- replay against the real server ----------------------------------------------------------
def test_replay_with_drift_and_delayed_labels_to_a_daemon(model_server):
    url, preds = model_server
    fake = FakeTime()
    deliveries: list[tuple[float, list[str]]] = []
    sent_at: dict[str, float] = {}
    plan = ReplayPlan(
        url=url,
        rate=100,
        duration=2.0,
        batches_per_second=10,
        drift=DriftSpec("shift", at_seconds=1.0, features=("f0",), amount=3.0),
        label_delay=0.5,
    )
    with LabelRecorder() as daemon, requests.Session() as session:
        http_sink = HttpLabelSink(session, daemon.url, "daemon-token")

        class TimedSink:
            def deliver(self, model, labels):
                deliveries.append((fake.now, [label.request_id for label in labels]))
                http_sink.deliver(model, labels)

        def on_batch(result):
            sent_at.update({rid: fake.now for rid in result.request_ids})

        stats = run_replay(
            plan,
            make_data(),
            session,
            clock=fake.clock,
            wait=fake.wait,
            labels=TimedSink(),
            on_batch=on_batch,
        )
    assert (stats.sent, stats.ok, stats.failed) == (200, 200, 0)
    assert stats.phases["baseline"].sent == 100 and stats.phases["drift"].sent == 100
    assert stats.phases["baseline"].accuracy == 1.0
    assert stats.phases["drift"].accuracy < 0.8
    assert (stats.labels_delivered, stats.labels_failed, stats.labels_pending) == (200, 0, 0)
    assert not stats.stopped

    # Labels arrive no earlier than the delay, and all of them reach the daemon with the token.
    assert all(at - sent_at[rid] >= 0.5 - 1e-9 for at, ids in deliveries for rid in ids)
    assert {path for path, _, _ in daemon.posts} == {"/api/v1/labels"}
    assert {auth for _, auth, _ in daemon.posts} == {"Bearer daemon-token"}
    posted = [item for _, _, body in daemon.posts for item in body["labels"]]
    assert {body["model"] for _, _, body in daemon.posts} == {"tiny"}
    assert all(TS_RE.match(item["ts"]) for item in posted)

    # Every labelled id is one the server logged, with the features that were sent.
    logged = {
        rec["request_id"]: rec
        for path in preds.iterdir()
        for rec in map(json.loads, path.read_text().splitlines())
    }
    assert {item["request_id"] for item in posted} <= set(logged)
    by_id = {item["request_id"]: item["label"] for item in posted}
    drifted = [logged[rid] for rid in sent_at if rid in by_id][100:]
    data = make_data()
    assert drifted[0]["features"]["f0"] == pytest.approx(
        data.features[0, 0] + 3.0 * data.features[:, 0].std()
    )


def test_labels_to_a_file_and_drift_by_row_count(model_server, tmp_path: Path):
    url, _ = model_server
    fake = FakeTime()
    labels_file = tmp_path / "labels" / "labels.jsonl"
    progress = ReplayProgress()
    plan = ReplayPlan(
        url=url,
        rate=50,
        duration=None,
        max_rows=120,
        drift=DriftSpec("scale", at_rows=37, amount=-1.0),
        label_delay=1,
    )
    with requests.Session() as session:
        stats = run_replay(
            plan,
            make_data(),
            session,
            clock=fake.clock,
            wait=fake.wait,
            labels=FileLabelSink(labels_file),
            progress=progress,
        )
    assert stats.sent == 120 and stats.phases["baseline"].sent == 37 and stats.phases["drift"].sent == 83
    lines = [json.loads(line) for line in labels_file.read_text().splitlines()]
    assert len(lines) == 120 and len({item["request_id"] for item in lines}) == 120
    assert set(lines[0]) == {"request_id", "label", "ts"}
    recent = progress.recent()
    assert [r.request_id for r in recent] == [item["request_id"] for item in lines]
    assert {r.version for r in recent} == {"1"}
    assert progress.accuracy(phase="baseline") == 1.0
    assert progress.accuracy(phase="drift") < 0.2  # negating every feature makes the argmax the smallest
    assert progress.snapshot() == stats


def test_switch_to_another_data_file(model_server):
    url, _ = model_server
    fake = FakeTime()
    x = np.tile([0.0, 0.0, 5.0, 0.0], (10, 1))
    other = ReplayData(COLUMNS, x, (2,) * 10, "other")
    progress = ReplayProgress()
    plan = ReplayPlan(url=url, rate=20, duration=2.0, drift=DriftSpec("file", at_seconds=1.0), label_delay=0)
    with requests.Session() as session:
        run_replay(
            plan, make_data(), session, clock=fake.clock, wait=fake.wait, drift_data=other, progress=progress
        )
    drifted = [r for r in progress.recent() if r.phase == "drift"]
    assert len(drifted) == 20 and {r.prediction for r in drifted} == {2}


def test_file_drift_needs_matching_columns(model_server):
    other = ReplayData(("a", "b", "c", "d"), np.zeros((2, 4)), None)
    plan = ReplayPlan(url=model_server[0], rate=10, duration=1.0, drift=DriftSpec("file", at_seconds=0.0))
    with pytest.raises(ValueError, match="columns differ"):
        run_replay(plan, make_data(), requests.Session(), drift_data=other)


def test_an_unreachable_server_counts_failures_and_labels_nothing(tmp_path: Path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    fake = FakeTime()
    plan = ReplayPlan(url=dead, rate=10, duration=1.0, timeout=2)
    stats = run_replay(
        plan,
        make_data(),
        requests.Session(),
        clock=fake.clock,
        wait=fake.wait,
        labels=FileLabelSink(tmp_path / "l"),
    )
    assert (stats.sent, stats.ok, stats.failed) == (10, 0, 10)
    assert "ConnectionError" in stats.last_error
    assert stats.labels_delivered == 0 and not (tmp_path / "l").exists()


def test_a_failing_label_endpoint_is_counted(model_server):
    fake = FakeTime()
    plan = ReplayPlan(url=model_server[0], rate=10, duration=1.0, label_delay=0)
    with LabelRecorder(status=500) as daemon, requests.Session() as session:
        stats = run_replay(
            plan,
            make_data(),
            session,
            clock=fake.clock,
            wait=fake.wait,
            labels=HttpLabelSink(session, daemon.url, None),
        )
        assert daemon.posts and all(auth is None for _, auth, _ in daemon.posts)
    assert stats.ok == 10 and stats.labels_delivered == 0 and stats.labels_failed == 10
    assert "answered 500" in stats.last_label_error


def test_http_sink_names_the_url_when_unreachable():
    sink = HttpLabelSink(requests.Session(), "http://127.0.0.1:9/api/v1/labels", "t", timeout=2)
    assert sink.url == "http://127.0.0.1:9/api/v1/labels"
    with pytest.raises(LabelDeliveryError, match="POST http://127.0.0.1:9/api/v1/labels failed"):
        sink.deliver("m", [LabelRecord("r", 1, 0.0)])


def test_real_clock_pacing_and_a_prompt_stop(model_server):
    url, _ = model_server
    progress = ReplayProgress()
    stop = threading.Event()
    plan = ReplayPlan(url=url, rate=200, duration=60.0, batches_per_second=10, label_delay=30)
    result: list = []
    thread = threading.Thread(
        target=lambda: result.append(
            run_replay(
                plan,
                make_data(),
                requests.Session(),
                stop=stop,
                progress=progress,
                labels=FileLabelSink("/dev/null"),
            )
        )
    )
    started = time.monotonic()
    thread.start()
    deadline = started + 30
    while progress.snapshot().sent < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    took = time.monotonic() - started
    stop.set()
    stopped_at = time.monotonic()
    thread.join(10)
    assert not thread.is_alive() and time.monotonic() - stopped_at < 2.0
    (stats,) = result
    assert stats.stopped and stats.failed == 0
    assert stats.labels_pending > 0 and stats.labels_delivered == 0  # stopped before the 30 s delay
    assert 0.6 < took < 10  # 200 rows at 200 rows/s: about a second, never a burst


# -- the command line ------------------------------------------------------------------------
def cli() -> typer.Typer:
    from monitor.cli import replay_cmd

    app = typer.Typer()
    replay_cmd.register(app)
    app.command("noop")(lambda: None)
    return app


def test_replay_command(model_server, tmp_path: Path):
    url, _ = model_server
    data = make_data(60)
    frame = pd.DataFrame(data.features, columns=list(COLUMNS)).assign(label=list(data.labels))
    frame.to_parquet(tmp_path / "data.parquet")
    args = ["replay", "--url", url, "--data", str(tmp_path / "data.parquet"), "--rate", "200", "--rows", "60"]
    args += ["--drift-at", "30rows", "--drift", "shift", "--drift-features", "f1", "--drift-amount", "4"]
    args += ["--labels-file", str(tmp_path / "labels.jsonl"), "--label-delay", "0s", "--json"]
    result = CliRunner().invoke(cli(), args)
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout.strip().splitlines()[-1])
    assert stats["sent"] == 60 and stats["ok"] == 60
    assert stats["phases"]["baseline"]["sent"] == 30 and stats["phases"]["drift"]["sent"] == 30
    assert stats["phases"]["baseline"]["accuracy"] == 1.0 and stats["phases"]["drift"]["accuracy"] < 1.0
    assert len((tmp_path / "labels.jsonl").read_text().splitlines()) == 60


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--drift", "shift"], "--drift and --drift-at go together"),
        (["--drift", "file", "--drift-at", "1s"], "--drift-data"),
        (["--drift", "melt", "--drift-at", "1s"], "expected one of"),
        (["--drift", "shift", "--drift-at", "soon"], "500rows"),
        (["--labels-file", "x", "--labels-url", "http://127.0.0.1:1"], "not both"),
        (["--duration", "forever"], "--duration"),
    ],
)
def test_replay_command_usage_errors(tmp_path: Path, extra: list[str], fragment: str):
    pd.DataFrame({"f0": [1.0]}).to_csv(tmp_path / "d.csv", index=False)
    result = CliRunner().invoke(
        cli(), ["replay", "--url", "http://127.0.0.1:1", "--data", str(tmp_path / "d.csv"), *extra]
    )
    assert result.exit_code == 2
    assert fragment in result.output


def test_image_shift_needs_square_rows(model_server):
    data = ReplayData(("a", "b", "c"), np.zeros((2, 3)), None)
    plan = ReplayPlan(url=model_server[0], rate=10, duration=1.0, drift=DriftSpec("image-shift", at_rows=0))
    with pytest.raises(ValueError, match="image-shift needs square images; 3 columns"):
        run_replay(plan, data, requests.Session())
