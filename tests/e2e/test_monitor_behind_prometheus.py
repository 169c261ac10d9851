"""Acceptance: behind a real Prometheus scraping the real reference server, every measurement is right.

The model and its data are made here, with a fresh seed per run: a softmax classifier whose
labels are drawn from its own probabilities (so the expected accuracy of any traffic is known),
where feature ``a`` decides and ``b``, ``c`` are ignored. Traffic goes through the server's real
``POST /predict`` (which writes the prediction log), half of it drifted; labels are posted to the
daemon's API. Truth comes from what the test sent, the server's own ``/metrics``, this process's
CPU and memory (the server runs in it), and Evidently's ``DataDriftPreset`` on the logged window.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sklearn.metrics import f1_score

from monitor.config import load_config
from monitor.daemon.wiring import build_daemon
from monitor.sources.histogram import histogram_quantile
from reoptimize.registry.file_registry import FileRegistry
from serving.app import create_app
from serving.server import ServerThread
from tests.support.prometheus import PrometheusProcess, free_port, require_prometheus
from tests.support.traffic import register_classifier, sample_labels

pytestmark = [pytest.mark.e2e, pytest.mark.prometheus]
FEATURES = ("a", "b", "c")
WINDOW = 120
TOKEN = "acceptance-token"


def _rss() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _server_buckets(url: str) -> list[tuple[float, float]]:
    out = []
    for family in text_string_to_metric_families(requests.get(url + "/metrics", timeout=5).text):
        for s in family.samples:
            if s.name == "modelserver_request_duration_seconds_bucket":
                out.append((float(s.labels["le"]), s.value))
    return sorted(out)


def test_every_measurement_is_right_behind_a_real_prometheus(tmp_path: Path) -> None:
    require_prometheus()
    seed = int.from_bytes(os.urandom(4), "little")
    rng = np.random.default_rng(seed)
    registry = FileRegistry(tmp_path / "registry")
    weights = np.array([[-2.5, 2.5], [0.0, 0.0], [0.0, 0.0]])
    manifest, _ = register_classifier(registry, "acc", weights, rng.normal(size=(2500, 3)), FEATURES, rng)
    app = create_app(tmp_path / "registry", "acc", predictions_dir=tmp_path / "log")
    with (
        ServerThread(app) as server,
        PrometheusProcess(tmp_path, {"server": [f"127.0.0.1:{server.port}"]}) as prom,
    ):
        prom.wait_for_samples('up{job="server"} == 1')
        api_port = free_port()
        config_path = tmp_path / "config.yaml"
        config_path.write_text(yaml.safe_dump({
            "state": f"sqlite:///{tmp_path}/state.db", "registry": str(tmp_path / "registry"), "dry_run": True,
            "prometheus": {"url": prom.url}, "api": {"listen": f"127.0.0.1:{api_port}", "token": TOKEN},
            "models": [{"name": "acc", "server": {"url": server.url}, "data": {"predictions": str(tmp_path / "log")},
                        "check": {"window": f"{WINDOW}s", "min_rows": 200, "every": "1h", "report": "on_request"},
                        "cost": {"cpu_price_per_hour": 0.5, "memory_price_per_gb_hour": 0.01}}]}))  # fmt: skip
        session = requests.Session()
        cpu_start, rss_seen = time.process_time(), [_rss()]
        sent_rows, ids, proba_rows, bad = [], [], [], 0
        for batch in range(30):
            rows = rng.normal(size=(20, 3))
            if batch >= 15:  # the second half drifts: a (which decides) and b (ignored) move
                rows[:, 0] += 0.7
                rows[:, 1] = rows[:, 1] * 2.5 + 1.0
            answer = session.post(
                server.url + "/predict", json={"instances": rows.tolist()}, timeout=10
            ).json()
            sent_rows.append(rows)
            ids += answer["request_ids"]
            proba_rows.append(np.array(answer["probabilities"]))
            if batch % 5 == 4:  # a malformed request: the server counts a bad_request error
                assert (
                    session.post(server.url + "/predict", json={"instances": [[1.0]]}, timeout=10).status_code
                    == 422
                )
                bad += 1
            rss_seen.append(_rss())
            time.sleep(0.1)
        proba = np.concatenate(proba_rows)
        truth = sample_labels(proba, rng)
        labelled = {rid: int(y) for i, (rid, y) in enumerate(zip(ids, truth, strict=True)) if i % 10 < 7}
        daemon = build_daemon(load_config(config_path), config_path)
        daemon.start(serve_http=True)
        try:
            api = f"http://127.0.0.1:{api_port}"
            auth = {"Authorization": f"Bearer {TOKEN}"}
            posted = session.post(api + "/api/v1/labels", headers=auth,
                                  json={"model": "acc", "labels": [{"request_id": k, "label": v} for k, v in labelled.items()]})  # fmt: skip
            assert posted.status_code == 202, posted.text
            prom.wait_for_scrape_after("server", time.time())
            cpu_end = time.process_time()
            at = float(prom.query('timestamp(up{job="server"})')[0]["value"][1])
            daemon.clock = lambda: at
            check = daemon.run_check("acc")
            exposition = requests.get(api + "/metrics", timeout=5).content
            details = daemon.store.checks.latest("acc").details
        finally:
            daemon.stop(grace=5)
        own_buckets = _server_buckets(server.url)
    v = check.values
    rows = np.concatenate(sent_rows)
    requests_total, predictions = 30 + bad, len(rows)
    where = f"seed {seed}"

    # serving, from Prometheus: the reference server's series exist from the start, so rates are exact
    assert v["request_rate"] == pytest.approx(requests_total / WINDOW, rel=1e-6), where
    assert v["prediction_rate"] == pytest.approx(predictions / WINDOW, rel=1e-6), where
    assert v["error_ratio"] == pytest.approx(bad / requests_total, rel=1e-6), where
    for q, name in (
        (0.5, "latency_p50_seconds"),
        (0.95, "latency_p95_seconds"),
        (0.99, "latency_p99_seconds"),
    ):
        assert v[name] == pytest.approx(histogram_quantile(q, own_buckets), rel=1e-6), (name, where)
    # CPU and memory are this process's (the server runs in it); Prometheus extrapolates CPU by half a scrape.
    true_cpu_per_1k = 1000 * (cpu_end - cpu_start) / predictions
    assert v["cpu_seconds_per_1k_predictions"] == pytest.approx(true_cpu_per_1k, rel=0.35), where
    assert (
        min(rss_seen) * 0.8
        <= v["memory_bytes"]
        <= resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 * 1.05
    )
    expected_cost = 1000 * (v["cpu_seconds_per_1k_predictions"] / 1000 * 0.5 / 3600
                            + v["memory_bytes"] / 1e9 / v["prediction_rate"] * 0.01 / 3600)  # fmt: skip
    assert v["cost_per_1k_predictions"] == pytest.approx(expected_cost, rel=1e-9)

    # rows, quality, model facts
    assert v["rows"] == predictions and v["missing_ratio"] == 0 and v["schema_errors"] == 0
    stats = FileRegistry(tmp_path / "registry")
    profile = next(iter(daemon.checker.views.values())).stats.columns
    low, high = np.array([profile[f].min for f in FEATURES]), np.array([profile[f].max for f in FEATURES])
    logged = rows.astype(np.float32).astype(np.float64)  # the server logs the float32 values the model got
    assert v["out_of_range_ratio"] == pytest.approx(
        float(((logged < low) | (logged > high)).mean()), abs=1e-12
    )
    assert v["model_size_bytes"] == (stats.version_dir("acc", "1") / "model.onnx").stat().st_size
    assert v["train_holdout_gap"] == pytest.approx(manifest.metrics["train_holdout_gap"])

    # accuracy with labels, and the estimate without them (the model is calibrated by construction)
    mask = np.array([i % 10 < 7 for i in range(predictions)])
    predicted = proba.argmax(axis=1)
    assert v["labelled_rows"] == mask.sum()
    assert v["accuracy"] == pytest.approx(float((predicted[mask] == truth[mask]).mean()), abs=1e-12)
    assert v["f1"] == pytest.approx(f1_score(truth[mask], predicted[mask], average="macro"), abs=1e-12)
    assert v["estimated_accuracy"] == pytest.approx(float(proba.max(axis=1).mean()), abs=0.04), where
    assert details["performance"]["accuracy"] == v["accuracy"]

    # drift: per-feature verdicts equal Evidently's on the same window, and only a's drift matters
    import pandas as pd

    from tests.support.evidently_oracle import evidently_verdicts

    reference = pd.read_parquet(stats.file("acc", "1", "reference.parquet"))[[*FEATURES, "_prediction"]]
    current = pd.DataFrame(logged, columns=list(FEATURES))
    current["_prediction"] = predicted
    theirs = evidently_verdicts(reference, current)
    ours = {f.feature: f.drifted for f in check.features}
    assert ours == {f: theirs[f] for f in FEATURES}, where
    assert v["prediction_drift"] == float(theirs["_prediction"])
    impact = details["drift_impact"]["features"]
    if ours["b"]:
        assert impact["b"] == 0.0
    if ours["a"]:
        assert impact["a"] > 0 and v["drift_impact"] == impact["a"]

    lint = subprocess.run(["promtool", "check", "metrics"], input=exposition, capture_output=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert b'modelhealth_source_up{kind="prometheus",model="acc"} 1.0' in exposition
