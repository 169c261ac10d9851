"""Promotion, rollback and crash reconciliation on a real registry, state store and reload hook."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.config import Config
from monitor.promote.promoter import Promoter, PromotionError
from monitor.running_config import RunningConfig
from monitor.state.store import StateStore
from reoptimize.registry.file_registry import FileRegistry
from tests.support.fake_registry import MemoryRegistry


def _world(kind: str, tmp_path: Path, loopback, store_url: str):  # noqa: ANN202
    loopback.handler = lambda req: (200, json.dumps({"version": "x"}).encode(), "application/json")
    config = Config.model_validate(
        {
            "registry": str(tmp_path / "registry"),
            "models": [
                {"name": "m", "server": {"url": loopback.url, "token": "tok"}, "data": {"predictions": "p"}}
            ],
        }
    )
    # The promoter needs no files: the in-memory registry (ids and an alias, as MLflow has) works too.
    registry = FileRegistry(config.registry.path) if kind == "files" else MemoryRegistry()
    for i in (1, 2, 3):
        registry.add_version("m", {"model.onnx": f"model {i}".encode()})
    registry.set_production("m", "1")
    store = StateStore.open(store_url)  # SQLite, then PostgreSQL
    clock = iter(range(1000, 100000)).__next__
    return (
        Promoter(RunningConfig(config), registry, store, None, lambda: float(clock())),
        registry,
        store,
        loopback,
    )


@pytest.fixture(params=["files", "memory"])
def world(request: pytest.FixtureRequest, tmp_path: Path, loopback, store_url: str):  # noqa: ANN201
    return _world(request.param, tmp_path, loopback, store_url)


@pytest.fixture
def files_world(tmp_path: Path, loopback, store_url: str):  # noqa: ANN201 - for tests that reach into the folders
    return _world("files", tmp_path, loopback, store_url)


def test_promote_records_intent_switches_pointer_and_calls_reload(world) -> None:
    promoter, registry, store, server = world
    record = promoter.promote("m", "2", reason="better", job_id="j1")
    assert registry.production("m") == "2"
    assert record.state == "done" and record.from_version == "1" and record.reload["ok"] is True
    method, path, headers, _ = server.requests[-1]
    assert (method, path, headers["Authorization"]) == ("POST", "/-/reload", "Bearer tok")
    assert [d.kind for d in store.decisions.list("m")] == ["promotion"]
    with pytest.raises(PromotionError, match="already production"):
        promoter.promote("m", "2", reason="again")


def test_tampered_version_is_never_promoted(files_world) -> None:
    promoter, registry, store, _ = files_world
    (registry.version_dir("m", "3") / "model.onnx").write_bytes(b"evil")
    with pytest.raises(PromotionError, match="sha256"):
        promoter.promote("m", "3", reason="x")
    assert registry.production("m") == "1"
    assert store.promotions.list("m") == []


def test_rollback_goes_back_once_and_then_is_a_no_op(world) -> None:
    promoter, registry, _, _ = world
    promoter.promote("m", "2", reason="better")
    back = promoter.rollback("m", reason="regressed")
    assert back is not None and back.kind == "rollback" and registry.production("m") == "1"
    assert promoter.rollback("m", reason="again") is None
    assert registry.production("m") == "1"


def test_failed_reload_is_recorded_and_retried(world) -> None:
    promoter, registry, store, server = world
    server.handler = lambda req: (500, b'{"detail": "cannot load"}', "application/json")
    record = promoter.promote("m", "2", reason="better")
    assert registry.production("m") == "2" and record.reload["ok"] is False
    assert "500" in record.reload["error"]
    server.handler = lambda req: (200, b'{"version": "2"}', "application/json")
    promoter.retry_reload("m")
    assert store.promotions.last_done("m").reload == {
        "ok": True,
        "status": 200,
        "version": "2",
        "error": None,
    }


def test_reconcile_finishes_or_aborts_intents_left_by_a_crash(files_world) -> None:
    promoter, registry, store, _ = files_world
    # crash after the intent, before the pointer moved: abort, production unchanged
    store.promotions.record_intent("m", "1", "2", "promote", "crash test", 1.0, "j1")
    # crash after the pointer moved, before "done": complete it
    store.promotions.record_intent("m", "1", "3", "promote", "crash test", 2.0, "j2")
    registry.set_production("m", "3")
    (registry.model_dir("m") / "versions" / ".staging-4-abc").mkdir()
    messages = promoter.reconcile()
    states = {p.to_version: p.state for p in store.promotions.list("m")}
    assert states == {"2": "aborted", "3": "done"} and len(messages) == 2
    assert registry.production("m") == "3"
    assert not list((registry.model_dir("m") / "versions").glob(".staging-*"))
    assert store.promotions.pending_intents() == []
    assert [d.kind for d in store.decisions.list("m")] == ["promotion", "promotion"]


def test_promote_and_rollback_commands(tmp_path: Path, loopback) -> None:
    import yaml
    from typer.testing import CliRunner

    from monitor.cli import app

    loopback.handler = lambda req: (200, b'{"version": "2"}', "application/json")
    registry = FileRegistry(tmp_path / "registry")
    for i in (1, 2):
        registry.add_version("m", {"model.onnx": f"model {i}".encode()})
    registry.set_production("m", "1")
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "state": f"sqlite:///{tmp_path}/state.db",
                "registry": str(tmp_path / "registry"),
                "models": [{"name": "m", "server": {"url": loopback.url}, "data": {"predictions": "p"}}],
            }
        )
    )
    run = CliRunner().invoke
    promoted = run(app, ["promote", "m", "2", "-c", str(config)])
    assert promoted.exit_code == 0 and "v2 is production (was v1); reload ok=True" in promoted.output
    assert run(app, ["promote", "m", "7", "-c", str(config)]).exit_code == 1
    assert "rolled back to v1" in run(app, ["rollback", "m", "-c", str(config)]).output
    again = run(app, ["rollback", "m", "-c", str(config), "--json"])
    assert again.exit_code == 0 and again.output.strip() == "null"
    assert registry.production("m") == "1"
