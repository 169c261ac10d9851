"""Every measurement of a check against a truth computed here, on a model and data made per test.

The classifier is a real ONNX softmax model whose labels are drawn from its own probabilities,
so its confidence is calibrated and the expected accuracy of any window is known. Feature ``a``
decides the class; ``b`` and ``c`` are ignored by the model, so their drift cannot matter.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.metrics import f1_score, recall_score

from monitor.check.checker import Checker
from monitor.config import ModelConfig, load_config
from monitor.sources.scrape_source import ScrapeSource
from reoptimize.registry.file_registry import FileRegistry
from tests.support.traffic import log_traffic, register_classifier, sample_labels

FEATURES = ("a", "b", "c")
WEIGHTS = np.array([[-3.0, 3.0], [0.0, 0.0], [0.0, 0.0]])


@pytest.fixture
def world(tmp_path: Path, loopback):
    loopback.handler = lambda req: (200, b"", "text/plain")  # serving metrics are not this test's subject
    rng = np.random.default_rng(int(time.time()))  # a fresh model and data on every run
    registry = FileRegistry(tmp_path / "registry")
    reference = rng.normal(size=(2500, 3))
    manifest, onnx_bytes = register_classifier(registry, "m", WEIGHTS, reference, FEATURES, rng)
    model = ModelConfig.model_validate(
        {"name": "m", "server": {"url": loopback.url}, "data": {"predictions": str(tmp_path / "log")},
         "check": {"window": "10m", "min_rows": 100}}
    )  # fmt: skip
    return registry, model, manifest, onnx_bytes, rng, tmp_path


def _window_rows(rng: np.random.Generator, n: int, shift_a: float, scale_b: float) -> np.ndarray:
    rows = rng.normal(size=(n, 3))
    rows[:, 0] += shift_a
    rows[:, 1] *= scale_b
    return rows


def test_performance_estimate_impact_and_quality_equal_the_truth(world) -> None:
    registry, model, manifest, onnx_bytes, rng, tmp_path = world
    now = time.time()
    rows = _window_rows(rng, 1500, shift_a=0.8, scale_b=3.0)
    ids, predictions, proba = log_traffic(tmp_path / "log", "m", "1", onnx_bytes, rows, FEATURES, now - 100)
    truth = sample_labels(proba, rng)
    labelled = {rid: int(y) for i, (rid, y) in enumerate(zip(ids, truth, strict=True)) if i % 5 != 0}
    checker = Checker(registry, ScrapeSource(), lambda _m, _now: labelled, profile_cache=tmp_path / "cache")
    outcome = checker.check(model, now)
    v = outcome.measurements.values

    mask = np.array([i % 5 != 0 for i in range(len(ids))])
    y_true, y_pred = truth[mask], predictions[mask]
    assert v["rows"] == 1500 and v["labelled_rows"] == mask.sum()
    assert v["accuracy"] == pytest.approx(float((y_true == y_pred).mean()), abs=1e-12)
    assert v["f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"), abs=1e-12)
    recall = outcome.details["per_class_recall"]
    for cls, value in zip((0, 1), recall_score(y_true, y_pred, average=None), strict=True):
        assert recall[str(cls)] == pytest.approx(value, abs=1e-12)
    # Calibrated by construction: the expected accuracy is the mean top probability.
    expected = float(proba.max(axis=1).mean())
    assert v["estimated_accuracy"] == pytest.approx(expected, abs=0.03)
    assert v["estimated_accuracy"] == pytest.approx(float((truth == predictions).mean()), abs=0.05)
    perf = outcome.details["performance"]
    assert perf["accuracy"] == v["accuracy"]
    assert perf["estimated_accuracy_on_labelled"] == pytest.approx(
        float(proba[mask].max(axis=1).mean()), abs=0.03
    )

    drifted = {f.feature for f in outcome.measurements.features if f.drifted}
    assert drifted == {"a", "b"} and v["drifted_features"] == 2 and v["drift_share"] == pytest.approx(2 / 3)
    impact = outcome.details["drift_impact"]
    assert impact["basis"] == "accuracy_drop" and impact["features"]["b"] == 0.0
    assert impact["features"]["a"] > 0.1 and v["drift_impact"] == impact["features"]["a"]
    by_name = {f.feature: f for f in outcome.measurements.features}
    assert by_name["a"].impact == impact["features"]["a"] and by_name["c"].impact is None

    assert v["train_holdout_gap"] == pytest.approx(manifest.metrics["train_holdout_gap"])
    assert v["model_size_bytes"] == (registry.version_dir("m", "1") / "model.onnx").stat().st_size
    # The reference the version is monitored against is the part left after the holdout split.
    stats = checker.views["m"].stats.columns
    low = np.array([stats[f].min for f in FEATURES])
    high = np.array([stats[f].max for f in FEATURES])
    assert v["out_of_range_ratio"] == pytest.approx(float(((rows < low) | (rows > high)).mean()), abs=1e-12)
    assert v["missing_ratio"] == 0 and v["nan_values"] == 0 and v["inf_values"] == 0
    assert v["schema_errors"] == 0 and v["unseen_category_ratio"] is None


def test_without_labels_impact_is_the_share_of_changed_predictions(world) -> None:
    registry, model, _, onnx_bytes, rng, tmp_path = world
    now = time.time()
    rows = _window_rows(rng, 800, shift_a=1.0, scale_b=1.0)
    _, predictions, _ = log_traffic(tmp_path / "log", "m", "1", onnx_bytes, rows, FEATURES, now - 50)
    outcome = Checker(registry, ScrapeSource(), lambda _m, _now: {}).check(model, now)
    v, impact = outcome.measurements.values, outcome.details["drift_impact"]
    assert v["accuracy"] is None and v["labelled_rows"] == 0 and v["estimated_accuracy"] is not None
    # b and c are not shifted; if chance calls one drifted, the model ignores it all the same.
    assert impact["basis"] == "prediction_change" and "a" in impact["features"]
    assert all(value == 0.0 for name, value in impact["features"].items() if name != "a")
    # Shuffling column a within the sample flips about 2 p (1 - p) of the predicted classes.
    p = float(predictions.mean())
    assert impact["features"]["a"] == pytest.approx(2 * p * (1 - p), abs=0.08)


def test_no_drift_means_zero_impact_and_too_few_rows_unknown(world) -> None:
    registry, model, _, onnx_bytes, rng, tmp_path = world
    now = time.time()
    log_traffic(tmp_path / "log", "m", "1", onnx_bytes, rng.normal(size=(60, 3)), FEATURES, now - 30)
    checker = Checker(registry, ScrapeSource(), lambda _m, _now: {})
    few = checker.check(model, now).measurements.values
    assert few["drift_share"] is None and few["drift_impact"] is None and few["rows"] == 60
    log_traffic(
        tmp_path / "log", "m", "1", onnx_bytes, rng.normal(size=(1500, 3)), FEATURES, now - 20, prefix="s"
    )
    calm = checker.check(model, now).measurements.values
    assert calm["drifted_features"] == 0 and calm["drift_impact"] == 0.0


def test_rules_act_only_on_drift_that_matters(tmp_path: Path, loopback) -> None:
    """``drift_share > 0.3 && drift_impact > 0.02``: drift of ignored features does not fire it."""
    from monitor.daemon.wiring import build_daemon

    loopback.handler = lambda req: (200, b"", "text/plain")
    rng = np.random.default_rng(int(time.time()) + 1)
    registry = FileRegistry(tmp_path / "registry")
    onnx = {}
    for name in ("ignored", "used"):
        _, onnx[name] = register_classifier(
            registry, name, WEIGHTS, rng.normal(size=(2000, 3)), FEATURES, rng
        )
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"rules": [
        {"name": "drift-that-matters", "when": "drift_share > 0.3 && drift_impact > 0.02",
         "actions": [{"pipeline": "notify"}]}]}))  # fmt: skip
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "state": f"sqlite:///{tmp_path}/state.db", "registry": str(tmp_path / "registry"), "rules": [str(rules)],
        "dry_run": True,
        "models": [{"name": n, "server": {"url": loopback.url}, "data": {"predictions": str(tmp_path / n)}}
                   for n in ("ignored", "used")]}))  # fmt: skip
    now = time.time()
    drifted = rng.normal(size=(1200, 3))
    drifted[:, 1] += 3.0
    drifted[:, 2] -= 3.0
    log_traffic(tmp_path / "ignored", "ignored", "1", onnx["ignored"], drifted, FEATURES, now - 60)
    moved = drifted.copy()
    moved[:, 0] += 0.7  # the deciding feature drifts too
    log_traffic(tmp_path / "used", "used", "1", onnx["used"], moved, FEATURES, now - 60)
    daemon = build_daemon(load_config(config), config, clock=lambda: now)
    try:
        quiet, loud = daemon.run_check("ignored"), daemon.run_check("used")
        states = {
            m: daemon.store.rule_states.load(m)[("drift-that-matters", m)]["state"]
            for m in ("ignored", "used")
        }
    finally:
        daemon.store.close()
    assert quiet.values["drift_share"] > 0.3 and quiet.values["drift_impact"] == 0.0
    assert loud.values["drift_share"] > 0.3 and loud.values["drift_impact"] > 0.02
    assert states == {"ignored": "inactive", "used": "firing"}
