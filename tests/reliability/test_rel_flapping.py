"""Flapping metrics: a measurement wandering around a rule's threshold acts at most once per cooldown.

The daemon's rule runner (rule engine, guards, jobs and decision log on a real SQLite store)
sees twelve simulated hours of checks, every 20 to 90 seconds, of three models whose values
hover around each rule's threshold, with unknown values now and then. Jobs that start finish
a few minutes later, so the cooldown (not a running job) is what must hold the rule back.
Time is a fake clock, so hours pass in seconds.

Pass criterion per (rule, model): the rule crossed its threshold many times, acted at least
once, and any two of its jobs are at least its cooldown apart; proposals refused for that are
in the decision log as rate-limited by the cooldown.
"""

from __future__ import annotations

import random

import pytest
import yaml

from monitor.config import parse_config
from monitor.decide.rule_runner import RuleRunner
from monitor.exporter import DaemonMetrics
from monitor.measurements import Measurements
from monitor.running_config import RunningConfig
from monitor.state.store import StateStore
from reoptimize.registry.backends import open_registry
from rules.loader import parse_rules
from tests.reliability.support_state import env_int, seed

pytestmark = pytest.mark.reliability

RULES = """\
rules:
  - name: errors
    when: error_ratio > 0.05
    keep_firing_for: 0s
    cooldown: 30m
    actions: [{pipeline: retrain}]
  - name: slow
    when: latency_p95_seconds > 0.1 && request_rate > 1
    for: 2m
    keep_firing_for: 1m
    cooldown: 1h
    actions: [{pipeline: quantize}]
  - name: drifting
    when: drift_share > 0.3
    actions: [{pipeline: retrain}]
"""
COOLDOWNS = {"errors": 1800.0, "slow": 3600.0, "drifting": 2700.0}  # drifting: guards.default_cooldown
THRESHOLDS = {"error_ratio": 0.05, "latency_p95_seconds": 0.1, "drift_share": 0.3}
MODELS = ("a", "b", "c")
GUARDS = {
    "daily_budget": 1000,
    "blast_radius": 100,
    "concurrency": 100,
    "breaker_threshold": 1000,
    "default_cooldown": "45m",
}


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def wander(rng: random.Random, threshold: float) -> float | None:
    """A value within a few percent of ``threshold``, on either side; now and then unknown."""
    if rng.random() < 0.05:
        return None
    return threshold * (1 + rng.uniform(-0.04, 0.04))


def test_a_flapping_metric_acts_at_most_once_per_cooldown(tmp_path, report) -> None:
    rng = random.Random(seed())
    hours = env_int("FLAP_HOURS", 12)
    config = parse_config(
        yaml.safe_dump(
            {
                "state": f"sqlite:///{tmp_path}/state.db",
                "registry": str(tmp_path / "registry"),
                "guards": GUARDS,
                "models": [
                    {
                        "name": m,
                        "server": {"url": "http://127.0.0.1:9"},
                        "data": {"predictions": "/nonexistent"},
                    }
                    for m in MODELS
                ],
            }
        )
    )
    store = StateStore.open(config.state)
    clock = Clock(1_800_000_000.0)
    start = clock.now
    runner = RuleRunner(
        RunningConfig(config, parse_rules(RULES)),
        store,
        open_registry(config.registry.settings()),
        DaemonMetrics(),
        clock,
    )
    ends: dict[str, float] = {}  # job id -> when it finishes
    crossings = {(r, m): 0 for r in COOLDOWNS for m in MODELS}
    above: dict[tuple[str, str], bool] = {}
    checks = 0
    while clock.now < start + hours * 3600:
        clock.now += rng.uniform(20, 90)
        for job_id, end in list(ends.items()):
            if end <= clock.now:
                store.jobs.mark_running(job_id, end - 1)
                store.jobs.finish(job_id, "succeeded", end)
                del ends[job_id]
        for model in MODELS:
            values = {name: wander(rng, t) for name, t in THRESHOLDS.items()} | {"request_rate": 5.0}
            for rule, name in (
                ("errors", "error_ratio"),
                ("slow", "latency_p95_seconds"),
                ("drifting", "drift_share"),
            ):
                v = values[name]
                if v is not None:
                    side = v > THRESHOLDS[name]
                    crossings[(rule, model)] += above.get((rule, model), side) != side
                    above[(rule, model)] = side
            cfg = config.model(model)
            runner.after_check(cfg, Measurements(model=model, version=None, at=clock.now, values=values))
            checks += 1
            for job in store.jobs.active(model):
                ends.setdefault(job.id, clock.now + rng.uniform(60, 600))

    jobs = store.jobs.list(limit=100_000)
    guard = store.decisions.list(kind="guard", limit=100_000)
    passes = 0
    for (rule, model), crossed in crossings.items():
        times = sorted(j.created_at for j in jobs if j.rule == rule and j.model == model)
        assert crossed >= 50, f"{rule}/{model} crossed its threshold only {crossed} times"
        assert times, f"{rule}/{model} never acted"
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert all(g >= COOLDOWNS[rule] for g in gaps), f"{rule}/{model}: jobs {min(gaps):.0f}s apart"
        # At most one per cooldown over the whole run, and the cooldown did the limiting.
        assert len(times) <= hours * 3600 / COOLDOWNS[rule] + 1
        held = [d for d in guard if d.rule == rule and d.model == model and not d.data["allowed"]]
        assert any(d.data["verdicts"][-1]["guard"] == "cooldown" for d in held), f"{rule}/{model}"
        assert all(d.data["rate_limited"] for d in held)
        passes += 1
    store.close()
    report.record(
        "flapping metric",
        trials=len(crossings),
        faults=sum(crossings.values()),
        passes=passes,
        note=f"seed {seed()}: {hours} h, {checks} checks, {len(jobs)} jobs, "
        f"{sum(1 for d in guard if not d.data['allowed'])} proposals held",
    )
