"""Reference profiles: built once per version, reused from disk after a restart, rebuilt when stale."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest

from monitor.check.checker import Checker
from monitor.check.reference_profile import build_profile, load_profile, profile_key, save_profile
from monitor.config import ModelConfig
from monitor.drift.detect import detect_drift
from monitor.sources.scrape_source import ScrapeSource
from reoptimize.registry.backends import open_registry
from reoptimize.registry.registry import Registry
from reoptimize.train.reference_frames import parquet_bytes
from tests.support.traffic import register_classifier

FEATURES = ("a", "b", "c")


def _registered_model(tmp_path: Path, seed: int) -> tuple[Registry, ModelConfig]:
    rng = np.random.default_rng(seed)
    registry = open_registry(tmp_path / "registry")
    register_classifier(
        registry, "m", np.array([[-2.0, 2.0], [0, 0], [0, 0]]), rng.normal(size=(1500, 3)), FEATURES, rng
    )
    model = ModelConfig.model_validate(
        {"name": "m", "server": {"url": "http://127.0.0.1:9"}, "data": {"predictions": str(tmp_path / "log")}}
    )
    return registry, model


def test_a_saved_profile_loads_equal_and_gives_the_same_verdicts(tmp_path: Path) -> None:
    import pandas as pd

    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {"a": rng.normal(size=3000), "b": rng.integers(0, 4, 3000), "c": rng.choice(["x", "y", "z"], 3000)}
    )
    frame["_prediction"] = rng.integers(0, 3, 3000)
    frame["_confidence"] = rng.uniform(0.4, 1.0, 3000)
    frame["label"] = np.where(
        rng.random(3000) < frame["_confidence"], frame["_prediction"], (frame["_prediction"] + 1) % 3
    )
    built = build_profile(parquet_bytes(frame), FEATURES, "label", {"a": "ks"}, "test")
    key = profile_key("sha", FEATURES, "label", {"a": "ks"})
    save_profile(tmp_path / "p.npz", built, key)
    loaded = load_profile(tmp_path / "p.npz", key)
    assert loaded is not None and load_profile(tmp_path / "p.npz", "other-key") is None
    assert loaded.categorical == built.categorical == {"c"}
    assert "_confidence" not in loaded.stats.columns and "_prediction" in loaded.stats.columns
    for name, stats in built.stats.columns.items():
        other = loaded.stats.columns[name]
        for field in dataclasses.fields(stats):
            left, right = getattr(stats, field.name), getattr(other, field.name)
            if isinstance(left, np.ndarray):
                assert left.dtype == right.dtype and np.array_equal(left, right), (name, field.name)
            else:
                assert left == right, (name, field.name)
    current = {"a": rng.normal(0.1, size=800), "b": rng.integers(0, 5, 800), "c": rng.choice(["x", "y", "w"], 800).astype(object),
               "_prediction": rng.integers(0, 3, 800)}  # fmt: skip
    assert detect_drift(built.stats, current) == detect_drift(loaded.stats, current)
    probe = np.linspace(0, 1, 11)
    assert np.array_equal(built.calibration(probe), loaded.calibration(probe))
    assert built.calibration.reference_accuracy == pytest.approx(
        float((frame["label"] == frame["_prediction"]).mean())
    )


def test_a_restart_reuses_the_profile_and_a_new_setting_rebuilds_it(tmp_path: Path, caplog) -> None:
    registry, model = _registered_model(tmp_path, seed=6)
    cache = tmp_path / "cache"

    def fresh_view(config: ModelConfig):  # noqa: ANN202 - a new Checker is a restarted daemon
        return Checker(registry, ScrapeSource(), lambda _m, _n: {}, profile_cache=cache).view(config)

    first = fresh_view(model)
    assert not first.profile_from_cache and len(list(cache.glob("m/*.npz"))) == 1
    second = fresh_view(model)
    assert second.profile_from_cache and second.stats.columns["a"].method == first.stats.columns["a"].method
    named = model.model_copy(update={"check": model.check.model_copy(update={"drift_methods": {"a": "psi"}})})
    third = fresh_view(named)
    assert not third.profile_from_cache and third.stats.columns["a"].method == "psi"
    assert len(list(cache.glob("m/*.npz"))) == 2
    for path in cache.glob("m/*.npz"):
        path.write_bytes(b"not a zip file")
    with caplog.at_level(logging.WARNING):
        rebuilt = fresh_view(model)
    assert not rebuilt.profile_from_cache and "unreadable reference profile" in caplog.text
    assert fresh_view(model).profile_from_cache


def test_with_a_cache_a_view_reads_its_profile_per_check_and_rebuilds_a_lost_one(tmp_path: Path) -> None:
    registry, model = _registered_model(tmp_path, seed=8)
    cache = tmp_path / "cache"
    view = Checker(registry, ScrapeSource(), lambda _m, _n: {}, profile_cache=cache).view(model)
    one, two = view.profile, view.profile
    assert one is not two  # read again, not held between checks
    assert np.array_equal(one.stats.columns["a"].sorted_values, two.stats.columns["a"].sorted_values)
    for path in cache.glob("m/*.npz"):
        path.unlink()
    again = view.profile  # the cache was cleaned up under the daemon: built anew, same statistics
    assert np.array_equal(again.stats.columns["a"].sorted_values, one.stats.columns["a"].sorted_values)
    assert len(list(cache.glob("m/*.npz"))) == 1
    held = Checker(registry, ScrapeSource(), lambda _m, _n: {}).view(model)  # no cache: held in memory
    assert held.profile is held.profile


def test_a_profile_whose_distinct_column_lost_its_sorted_values_is_ignored_as_unreadable(
    tmp_path: Path, caplog
) -> None:
    import pandas as pd

    rng = np.random.default_rng(9)
    frame = pd.DataFrame({f: rng.normal(size=500) for f in FEATURES})  # every value distinct
    frame["_prediction"], frame["label"] = rng.integers(0, 3, 500), rng.integers(0, 3, 500)
    path, key = tmp_path / "p.npz", profile_key("sha", FEATURES, "label", {})
    save_profile(path, build_profile(parquet_bytes(frame), FEATURES, "label", {}, "test"), key)
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    assert "c0_sorted" in arrays and "c0_categories" not in arrays  # stored as a distinct column
    del arrays["c0_sorted"]  # the header still says distinct: a damaged or foreign file
    with open(path, "wb") as fh:
        np.savez(fh, allow_pickle=False, **arrays)
    with caplog.at_level(logging.WARNING):
        assert load_profile(path, key) is None
    assert "unreadable reference profile" in caplog.text and "'a' is marked distinct" in caplog.text
