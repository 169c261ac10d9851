"""The post-promotion watch on a real registry and state store, with a controlled clock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.config import Config
from monitor.measurements import Measurements
from monitor.promote.promoter import Promoter
from monitor.promote.promotion_watch import PromotionWatch
from monitor.running_config import RunningConfig
from monitor.state.store import StateStore
from reoptimize.registry.backends import open_registry


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(tmp_path: Path, loopback, store_url: str):
    loopback.handler = lambda req: (200, json.dumps({"version": "?"}).encode(), "application/json")
    config = Config.model_validate(
        {
            "registry": str(tmp_path / "registry"),
            "models": [
                {
                    "name": "m",
                    "server": {"url": loopback.url},
                    "data": {"predictions": "p"},
                    "check": {"every": "10s", "window": "60s"},
                    "watch": {"period": "5m", "min_checks": 2},
                }
            ],
        }
    )
    registry = open_registry(config.registry.path)
    for i in (1, 2):
        registry.add_version("m", {"model.onnx": f"model {i}".encode()})
    registry.set_production("m", "1")
    store = StateStore.open(store_url)  # SQLite, then PostgreSQL
    clock = Clock(10_000.0)
    promoter = Promoter(RunningConfig(config), registry, store, None, clock)
    return (
        config,
        registry,
        store,
        promoter,
        PromotionWatch(RunningConfig(config), store, promoter, clock),
        clock,
    )


def _check(store, watch, config, clock, version: str, **values) -> None:  # noqa: ANN001
    store.checks.record("m", version, clock.now, values, {})
    watch.after_check(config.model("m"), Measurements("m", version, clock.now, values))
    clock.now += 10


def test_a_live_regression_rolls_back_once(world) -> None:
    config, registry, store, promoter, watch, clock = world
    for _ in range(3):
        _check(store, watch, config, clock, "1", accuracy=0.93, latency_p95_seconds=0.004)
    promoter.promote("m", "2", reason="candidate won")
    assert watch.watching("m")
    _check(store, watch, config, clock, "2", accuracy=0.80, latency_p95_seconds=0.004)
    assert registry.production("m") == "2"  # one check is not enough to judge
    _check(store, watch, config, clock, "2", accuracy=0.82, latency_p95_seconds=0.004)
    assert registry.production("m") == "1"
    assert not watch.watching("m")
    rollback = store.decisions.list("m", kind="rollback")[0]
    assert "post-promotion watch" in rollback.message and "accuracy 0.81" in rollback.message
    assert rollback.data["watch"]["regressed"] is True
    _check(store, watch, config, clock, "1", accuracy=0.93)
    assert len(store.promotions.list("m")) == 2  # no second rollback


def test_a_quiet_watch_ends_after_its_period(world) -> None:
    config, registry, store, promoter, watch, clock = world
    _check(store, watch, config, clock, "1", accuracy=0.60, latency_p95_seconds=0.004)
    promoter.promote("m", "2", reason="candidate won")
    while clock.now < 10_000 + 400:
        _check(store, watch, config, clock, "2", accuracy=0.90, latency_p95_seconds=0.0041)
    assert registry.production("m") == "2" and not watch.watching("m")
    ended = [d for d in store.decisions.list("m") if "watch of v2 ended" in d.message]
    assert len(ended) == 1 and "no regression" in ended[0].message


def test_unknown_measurements_never_roll_back(world) -> None:
    config, registry, store, promoter, watch, clock = world
    _check(store, watch, config, clock, "1", latency_p95_seconds=0.004)
    promoter.promote("m", "2", reason="candidate won")
    for _ in range(5):
        _check(store, watch, config, clock, "2")  # nothing measured: the server is down
    assert registry.production("m") == "2" and watch.watching("m")


def test_latency_is_judged_on_windows_that_began_after_the_switch(world) -> None:
    config, registry, store, promoter, watch, clock = world
    _check(store, watch, config, clock, "1", latency_p95_seconds=0.010, error_ratio=0.0)
    promoter.promote("m", "2", reason="faster?")
    for _ in range(6):  # the 60 s window still holds requests from before the switch
        _check(store, watch, config, clock, "2", latency_p95_seconds=0.030, error_ratio=0.0)
    assert registry.production("m") == "2"
    _check(store, watch, config, clock, "2", latency_p95_seconds=0.030, error_ratio=0.0)
    _check(store, watch, config, clock, "2", latency_p95_seconds=0.031, error_ratio=0.0)
    assert registry.production("m") == "1"
    assert "latency_p95_seconds" in store.decisions.list("m", kind="rollback")[0].message


def test_a_latency_blip_around_the_switch_does_not_roll_back(world) -> None:
    config, registry, store, promoter, watch, clock = world
    _check(store, watch, config, clock, "1", latency_p95_seconds=0.003, accuracy=0.6)
    promoter.promote("m", "2", reason="retrained")
    for i in range(12):  # a busy minute (the job that built v2 just finished), then calm
        _check(store, watch, config, clock, "2", latency_p95_seconds=0.009 if i < 6 else 0.003, accuracy=0.95)
    assert registry.production("m") == "2"


def test_an_estimate_is_not_judged_against_a_labelled_accuracy(world) -> None:
    config, registry, store, promoter, watch, clock = world
    _check(store, watch, config, clock, "1", accuracy=0.55, estimated_accuracy=0.97)
    promoter.promote("m", "2", reason="retrained after drift")
    for _ in range(3):  # the new version's labels are still on their way
        _check(store, watch, config, clock, "2", estimated_accuracy=0.85)
    assert registry.production("m") == "2" and watch.watching("m")
    _check(store, watch, config, clock, "2", accuracy=0.91, estimated_accuracy=0.85)
    assert registry.production("m") == "2"


def test_the_old_version_is_judged_as_it_was_when_replaced(world) -> None:
    config, registry, store, promoter, watch, clock = world
    for _ in range(20):  # good days, long before the drift
        _check(store, watch, config, clock, "1", accuracy=0.97)
    for _ in range(6):  # the last minute before the switch: drifted
        _check(store, watch, config, clock, "1", accuracy=0.55)
    promoter.promote("m", "2", reason="retrained after drift")
    for _ in range(3):  # below the old good days (0.97), far above how v1 did at the end
        _check(store, watch, config, clock, "2", accuracy=0.85)
    assert registry.production("m") == "2"
