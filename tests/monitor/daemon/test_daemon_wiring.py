"""The daemon assembled from fakes by the composition root: reload, supervise and drain in-process,
without uvicorn, without the scheduler's thread, without a job process."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import yaml

from monitor.config import load_config
from monitor.daemon.lifecycle import Lifecycle
from monitor.daemon.reload import ReloadPlan, ReloadRefused
from monitor.daemon.sd_notify import Notifier
from monitor.daemon.wiring import build_daemon
from monitor.jobs.job_settings import UNRECORDED_PREFIX, WORKER_ENTRY
from monitor.state.store import StateStore
from tests.support.fake_executor import FakeExecutor
from tests.support.memory_store import memory_store


def _write(path: Path, every: str = "1m", timeout: str = "30m") -> None:
    path.write_text(
        yaml.safe_dump(
            {
                "registry": str(path.parent / "registry"),
                "jobs": {"timeout": timeout},
                "models": [
                    {
                        "name": "m",
                        "server": {"url": "http://127.0.0.1:9", "token": "server-secret"},
                        "data": {"predictions": str(path.parent / "p")},
                        "recipe": {"factory": "reoptimize.recipes.mlp:mlp"},
                        "check": {"every": every},
                    }
                ],
            }
        )
    )


@pytest.fixture
def daemon(tmp_path: Path):
    path = tmp_path / "config.yaml"
    _write(path)
    executor = FakeExecutor()
    d = build_daemon(load_config(path), path, executor=executor, store=memory_store())
    yield d, executor, path
    if d.scheduler.running:
        d.scheduler.shutdown(wait=False)


def test_a_queued_job_reaches_the_executor_as_a_reference_with_its_limits_and_no_secrets(daemon) -> None:
    d, executor, _ = daemon
    job = d.store.jobs.create("m", "retrain", {}, {}, d.clock())
    d.supervisor.tick()
    ((ref, limits),) = executor.submitted
    assert ref.job_id == job.id and ref.entry == WORKER_ENTRY
    assert ref.payload["model"]["name"] == "m" and ref.payload["state"] == d.config.state
    assert "server-secret" not in ref.to_json()
    assert limits.timeout_seconds == 1800.0
    assert d.store.jobs.get(job.id).state == "running"


def test_an_exit_is_recorded_with_what_the_worker_said(daemon) -> None:
    d, executor, _ = daemon
    said = d.store.jobs.create("m", "retrain", {}, {}, d.clock())
    d.supervisor.tick()
    executor.end(said.id, 3, f"Traceback...\n{UNRECORDED_PREFIX}the disk is full\n")
    silent = d.store.jobs.create("m", "retrain", {}, {}, d.clock())
    d.supervisor.tick()
    d.supervisor.tick()
    executor.end(silent.id, 1, "loading\nSegmentation fault\n")
    d.supervisor.tick()
    assert d.store.jobs.get(said.id).error == "worker exited with code 3: the disk is full"
    assert (
        d.store.jobs.get(silent.id).error == "worker exited with code 1; its output ends: Segmentation fault"
    )


def test_reload_swaps_the_running_config_for_every_collaborator_and_reschedules(daemon) -> None:
    d, executor, path = daemon
    d.scheduler.start(paused=True)  # jobs are replaced, none runs
    d.schedule.check(d.config.model("m"), d.run_check, soon=False)
    before = d.config
    _write(path, every="5s", timeout="10m")
    plan = d.reload()
    assert plan.rescheduled == ("m",) and d.config is not before
    assert d.scheduler.get_job("check:m").trigger.interval.total_seconds() == 5.0
    for reader in (d.supervisor, d.promoter, d.watch, d.rules):
        assert reader.config is d.config
    d.store.jobs.create("m", "retrain", {}, {}, d.clock())
    d.supervisor.tick()
    assert executor.submitted[-1][1].timeout_seconds == 600.0  # the new timeout, through the protocol


def test_a_refused_reload_changes_nothing(daemon) -> None:
    d, _, path = daemon
    before, generation = d.config, d.running.generation
    path.write_text("models: [{name: m}]\n")
    with pytest.raises(ReloadRefused, match="not a valid config"):
        d.reload()
    assert d.config is before and d.running.generation == generation


def test_drain_of_a_daemon_never_started_cancels_what_outlives_the_grace(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    _write(path)
    executor = FakeExecutor()
    d = build_daemon(load_config(path), path, executor=executor)  # a store on disk: a drain closes it
    job = d.store.jobs.create("m", "retrain", {}, {}, d.clock())
    d.supervisor.tick()
    report = d.drain(grace=0.3)
    assert report.cancelled == (job.id,) and executor.cancelled == [job.id]
    assert d.stopping.is_set() and not d.lock.held
    store = StateStore.open(d.config.state)
    stored = store.jobs.get(job.id)
    store.close()
    assert stored.state == "cancelled" and "after the drain grace of 0.3s" in stored.error


class _Target:
    """A stand-in for the daemon, for the main loop alone."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.config_path = Path("c.yaml")
        self.scheduler = None
        self.http_server = None
        self.http_thread = None
        self.last_tick_at = None
        self.calls: list[str] = []
        self.refuse = False

    def status_line(self) -> str:
        return "watching 0 model(s); 0 job(s) running"

    def jobs_running(self) -> int:
        return 0

    def reload(self) -> ReloadPlan:
        self.calls.append("reload")
        if self.refuse:
            raise ReloadRefused("bad file")
        return ReloadPlan((), (), (), (), ())

    def drain(self, grace: float | None = None, on_wait=None):  # noqa: ANN001, ANN201
        self.calls.append(f"drain {grace:g}")
        return "drained"

    @property
    def drain_grace(self) -> float:
        return 7.0


def test_the_main_loop_reloads_in_order_and_drains_once_on_stop() -> None:
    target = _Target()
    lifecycle = Lifecycle(target, Notifier(None))
    lifecycle.request("reload")
    lifecycle.request("stop")
    lifecycle.request("reload")  # after a stop: not applied
    assert lifecycle.run() == "drained"
    assert target.calls == ["reload", "drain 7"]
    target.refuse = True
    assert lifecycle.reload() is False and target.calls[-1] == "reload"
