"""Handling a finished job is level-triggered and idempotent: a crash at any step, then a restart,
promotes the job's candidate exactly once and logs its outcome once.

A crash is simulated in-process by making a failure point raise instead of SIGKILLing (the
reliability suite kills real processes); the "restart" is a new supervisor and promoter on the
same state store and registry, with the promoter reconciling first, as the daemon does.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from monitor.config import Config
from monitor.exporter import DaemonMetrics
from monitor.jobs.supervisor import JobSupervisor
from monitor.promote.promoter import Promoter
from monitor.running_config import RunningConfig
from monitor.state.store import StateStore
from reoptimize import failpoints
from reoptimize.registry.backends import open_registry
from tests.support.fake_executor import FakeExecutor
from tests.support.job_results import job_result_json

DAEMON_STEPS = tuple(s for s in failpoints.PROMOTION_STEPS if s not in failpoints.WORKER_STEPS)


class Crash(BaseException):
    """Stands for SIGKILL: nothing below the failure point runs, no ``except Exception`` sees it."""


@pytest.fixture
def world(tmp_path: Path, loopback, store_url: str):
    loopback.handler = lambda req: (200, json.dumps({"version": "2"}).encode(), "application/json")
    config = Config.model_validate(
        {
            "registry": str(tmp_path / "registry"),
            "models": [{"name": "m", "server": {"url": loopback.url}, "data": {"predictions": "p"}}],
        }
    )
    registry = open_registry(config.registry.path)
    for i in (1, 2):
        registry.add_version("m", {"model.onnx": f"model {i}".encode()})
    registry.set_production("m", "1")
    store = StateStore.open(store_url)  # SQLite, then PostgreSQL
    job = store.jobs.create("m", "retrain", {}, {}, time.time())
    store.jobs.mark_running(job.id, time.time())
    result = job_result_json(job.id, "m")
    store.jobs.finish(job.id, "succeeded", time.time(), result=result, candidate_version="2")
    return config, registry, store, job.id, loopback


def _daemon(config, registry, store):  # noqa: ANN001, ANN202 - what a (re)started daemon builds
    promoter = Promoter(RunningConfig(config), registry, store, None, time.time)
    promoter.reconcile()
    supervisor = JobSupervisor(
        RunningConfig(config), store, FakeExecutor(), promoter, DaemonMetrics(), time.time
    )
    return supervisor


@pytest.mark.parametrize("step", DAEMON_STEPS)
def test_a_crash_at_any_step_then_a_restart_promotes_once(step: str, world, monkeypatch) -> None:
    config, registry, store, job_id, server = world

    def crash_at(name: str) -> None:
        if name == step:
            raise Crash(name)

    monkeypatch.setattr(failpoints, "hit", crash_at)
    with pytest.raises(Crash):
        _daemon(config, registry, store).tick()
    monkeypatch.setattr(failpoints, "hit", lambda name: None)
    restarted = _daemon(config, registry, store)
    restarted.tick()
    restarted.tick()  # a further tick changes nothing

    assert registry.production("m") == "2"
    done = [p for p in store.promotions.list("m") if p.state == "done"]
    assert [(p.job_id, p.to_version) for p in done] == [(job_id, "2")]
    assert not store.promotions.pending_intents() and not store.jobs.unhandled_finished()
    decisions = store.decisions.list("m")
    assert sum(1 for d in decisions if d.data.get("finished")) == 1
    for p in store.promotions.list("m"):
        assert sum(1 for d in decisions if d.data.get("promotion_id") == p.id) == 1
    assert store.promotions.last_done("m").reload["ok"] is True
    assert [r[1] for r in server.requests].count("/-/reload") >= 1


def test_a_job_whose_promotion_was_done_is_not_promoted_again(world) -> None:
    config, registry, store, job_id, _ = world
    supervisor = _daemon(config, registry, store)
    supervisor.promoter.promote("m", "2", reason="by hand, before the job was handled", job_id=job_id)
    supervisor.promoter.rollback("m", reason="operator")
    supervisor.tick()
    assert registry.production("m") == "1", "the job's candidate was promoted a second time"
    assert len([p for p in store.promotions.for_job(job_id) if p.state == "done"]) == 1
    assert not store.jobs.unhandled_finished()


def test_a_transient_failure_leaves_the_job_for_a_later_tick(world, monkeypatch) -> None:
    config, registry, store, job_id, _ = world
    supervisor = _daemon(config, registry, store)
    calls = []

    def busy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(args)
        raise OSError("database is locked")

    monkeypatch.setattr(supervisor.promoter, "promote", busy)
    supervisor.tick()
    supervisor.tick()  # within the backoff: not retried yet
    assert len(calls) == 1 and store.jobs.unhandled_finished()
    monkeypatch.undo()
    supervisor._retry.clear()
    supervisor.tick()
    assert registry.production("m") == "2" and not store.jobs.unhandled_finished()
