"""Scenario 6 (part A's 2): a tampered, missing or planted artifact, or a wrong hash, is refused
before anything is deserialized, with an error naming the file and the expected and actual sha256.

Every kind of tampering is tried on every consumer: the model server at start and at
``/-/reload``, the daemon's check and its promotion, and the job worker. Version 2 is a valid
model of its own, so a swapped ``model.onnx`` (version 1's bytes) would load and serve fine if
nothing compared hashes: only the hash check can refuse it. A tripwire around ONNX Runtime and
``pandas.read_parquet`` in this process records the sha256 of every byte string they are given;
the tampered bytes must never be among them. The planted pickle and ``.pt`` files would create a
marker file if anything unpickled them (checked on a copy of the payload first, so the test
could fail); the marker must never appear.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.reliability.support_world import (
    MODEL,
    SERVER_TOKEN,
    World,
    add_trained_version,
    free_port,
    model_server,
    served_version,
    table,
    train_template,
)

pytestmark = pytest.mark.reliability
SHA = 64  # hex digits of a sha256


class _Opens:
    """Unpickling this opens (creates) ``path``: a stand-in for a malicious payload."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):  # noqa: ANN204
        return (open, (self.path, "w"))


@dataclass(frozen=True)
class Tamper:
    name: str
    apply: Callable[[Path, Path, Path], None]  # (v2 folder, v1 folder, marker) -> None
    file: str  # the file the error must name


def _swap_onnx(v2: Path, v1: Path, marker: Path) -> None:
    import onnx

    # Version 1's graph with another doc string: a valid model whose bytes nothing else holds.
    graph = onnx.load_from_string((v1 / "model.onnx").read_bytes())
    graph.doc_string = "swapped in by the reliability suite"
    (v2 / "model.onnx").write_bytes(graph.SerializeToString())


def _flip_reference(v2: Path, v1: Path, marker: Path) -> None:
    data = bytearray((v2 / "reference.parquet").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (v2 / "reference.parquet").write_bytes(bytes(data))


def _delete_onnx(v2: Path, v1: Path, marker: Path) -> None:
    (v2 / "model.onnx").unlink()


def _wrong_hash_in_manifest(v2: Path, v1: Path, marker: Path) -> None:
    manifest = json.loads((v2 / "manifest.json").read_text())
    manifest["files"]["holdout.parquet"] = hashlib.sha256(b"not the holdout").hexdigest()
    (v2 / "manifest.json").write_text(json.dumps(manifest))


def _plant_pickle(v2: Path, v1: Path, marker: Path) -> None:
    (v2 / "model.pkl").write_bytes(pickle.dumps(_Opens(str(marker))))


def _plant_pt(v2: Path, v1: Path, marker: Path) -> None:
    # A legacy torch checkpoint is a pickle: torch.load(weights_only=False) would run it.
    (v2 / "weights.pt").write_bytes(pickle.dumps(_Opens(str(marker)), protocol=2))


TAMPERS = (
    Tamper("model.onnx swapped for another valid model", _swap_onnx, "model.onnx"),
    Tamper("one byte of reference.parquet flipped", _flip_reference, "reference.parquet"),
    Tamper("model.onnx missing", _delete_onnx, "model.onnx"),
    Tamper("manifest lists a wrong sha256", _wrong_hash_in_manifest, "holdout.parquet"),
    Tamper("pickle planted in the version", _plant_pickle, "model.pkl"),
    Tamper(".pt checkpoint planted in the version", _plant_pt, "weights.pt"),
)


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory) -> Path:
    """A registry with v1 (production) and v2, a model trained on other data."""
    base = tmp_path_factory.mktemp("artifacts")
    registry_dir = train_template(base / "one")
    assert add_trained_version(registry_dir, table(seed=11), base / "other") == "2"
    return registry_dir


class Tripwire:
    """Records the sha256 of every byte string handed to ONNX Runtime or pandas' Parquet reader."""

    def __init__(self, monkeypatch):
        import onnxruntime
        import pandas

        self.seen: set[str] = set()
        real_session, real_parquet = onnxruntime.InferenceSession, pandas.read_parquet

        def session(model, *args, **kwargs):  # noqa: ANN001, ANN202
            self._note(model)
            return real_session(model, *args, **kwargs)

        def read_parquet(source, *args, **kwargs):  # noqa: ANN001, ANN202
            self._note(source.getvalue() if isinstance(source, io.BytesIO) else source)
            return real_parquet(source, *args, **kwargs)

        monkeypatch.setattr(onnxruntime, "InferenceSession", session)
        monkeypatch.setattr(pandas, "read_parquet", read_parquet)

    def _note(self, source) -> None:  # noqa: ANN001
        if isinstance(source, bytes | bytearray):
            self.seen.add(hashlib.sha256(source).hexdigest())
        elif isinstance(source, str | Path) and Path(source).is_file():
            self.seen.add(hashlib.sha256(Path(source).read_bytes()).hexdigest())


def _expectations(world: World, tamper: Tamper) -> tuple[Path, str | None, str | None]:
    """(path, expected sha256 or None, actual sha256 or None) the error must name."""
    path = world.registry_dir / MODEL / "versions" / "2" / tamper.file
    manifest = json.loads((path.parent / "manifest.json").read_text())
    expected = manifest["files"].get(tamper.file)
    actual = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
    return path, expected, actual


def _names_it(message: str, path: Path, expected: str | None, actual: str | None) -> list[str]:
    missing = []
    if str(path) not in message:
        missing.append(f"the file {path}")
    for label, digest in (("expected", expected), ("actual", actual)):
        if digest is not None and digest not in message:
            missing.append(f"the {label} sha256 {digest}")
    if expected is None and "not listed in the manifest" not in message:
        missing.append("that the file is not in the manifest")
    if actual is None and "missing" not in message:
        missing.append("that the file is missing")
    return missing


def _point_production_at(world: World, version: str) -> None:
    from reoptimize.registry.file_registry import atomic_write

    # Written directly, as an intruder or a bug would: set_production itself would refuse.
    atomic_write(world.registry_dir / MODEL / "production", f"{version}\n".encode())


def _daemon(world: World):  # noqa: ANN202
    from monitor.config import load_config
    from monitor.daemon.wiring import build_daemon

    return build_daemon(load_config(world.config_path), world.config_path)


def _consumers(world: World) -> dict[str, Callable[[], str]]:
    """Each consumer tries to use v2 and returns its error message (failing if it accepted v2)."""

    def daemon_promote() -> str:
        from monitor.promote.promoter import PromotionError

        _point_production_at(world, "1")
        daemon = _daemon(world)
        try:
            with pytest.raises(PromotionError) as refused:
                daemon.promoter.promote(MODEL, "2", reason="reliability: tampered candidate")
            assert daemon.registry.production(MODEL) == "1"
            assert daemon.store.promotions.list(MODEL) == [], "an intent was recorded for a refused version"
            return str(refused.value)
        finally:
            daemon.store.close()

    def server_reload() -> str:
        _point_production_at(world, "1")
        with model_server(world.registry_dir) as url:
            assert served_version(url) == "1"
            _point_production_at(world, "2")
            response = requests.post(
                url + "/-/reload", headers={"Authorization": f"Bearer {SERVER_TOKEN}"}, timeout=30
            )
            assert response.status_code == 409, response.text
            assert served_version(url) == "1", "the server stopped serving the good version"
            return response.json()["error"]

    def server_start() -> str:
        _point_production_at(world, "2")
        with model_server(world.registry_dir) as url:
            response = requests.get(url + "/readyz", timeout=5)
            assert response.status_code == 503, response.text
            return response.json()["reason"]

    def daemon_check() -> str:
        _point_production_at(world, "2")
        daemon = _daemon(world)
        try:
            daemon.run_check(MODEL)
            latest = daemon.store.checks.latest(MODEL)
            assert latest is not None and latest.error, "the check accepted the tampered version"
            return latest.error
        finally:
            daemon.store.close()

    def job_worker() -> str:
        _point_production_at(world, "2")
        store = world.store()
        try:
            job = store.jobs.create(MODEL, "retrain", {}, {"reason": "reliability"}, time.time())
            store.jobs.mark_running(job.id, time.time())
            env = dict(os.environ, DO_NOT_TRACK="1")
            env.pop("MODELHEALTHD_FAILPOINTS", None)
            cmd = [
                sys.executable,
                "-m",
                "monitor.jobs.worker",
                "--config",
                str(world.config_path),
                "--job",
                job.id,
            ]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
            record = store.jobs.get(job.id)
            assert done.returncode != 0 and record.state == "failed", (record.state, done.stderr[-2000:])
            assert not (world.registry_dir / MODEL / "versions" / "3").exists(), (
                "a job ran on a tampered champion"
            )
            return record.error
        finally:
            store.close()

    return {
        "daemon promote": daemon_promote,
        "server reload": server_reload,
        "server start": server_start,
        "daemon check": daemon_check,
        "job worker": job_worker,
    }


@pytest.mark.parametrize("tamper", TAMPERS, ids=[t.name for t in TAMPERS])
def test_tampered_artifacts_are_refused_before_deserializing(
    tamper: Tamper, two_versions: Path, tmp_path: Path, monkeypatch, report
) -> None:
    world = World(tmp_path / "world", "http://127.0.0.1:9", free_port())
    shutil.copytree(two_versions, world.registry_dir)
    marker = tmp_path / "unpickled-marker"
    control = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(_Opens(str(control))))
    assert control.exists(), "the planted payload would not run: the test could not fail"
    tamper.apply(
        world.registry_dir / MODEL / "versions" / "2", world.registry_dir / MODEL / "versions" / "1", marker
    )
    path, expected, actual = _expectations(world, tamper)
    tripwire = Tripwire(monkeypatch)
    failures, passes = [], 0
    world.write_config()  # the daemon's reload hook points nowhere: only its refusals matter here
    for name, consume in _consumers(world).items():
        try:
            message = consume()
        except AssertionError as exc:
            failures.append(f"{name}: {exc}")
            continue
        gaps = _names_it(message, path, expected, actual)
        if actual is not None and actual in tripwire.seen:
            gaps.append("the tampered bytes reached a deserializer")
        if marker.exists():
            gaps.append("the planted pickle was unpickled")
        if gaps:
            failures.append(f"{name}: the error {message!r} does not name " + ", ".join(gaps))
        else:
            passes += 1
    report.record(
        "tampered or missing artifact, wrong hash",
        trials=len(_consumers(world)),
        faults=len(_consumers(world)),
        passes=passes,
        note=tamper.name,
    )
    assert not failures, "\n".join(failures)


BROKEN = {
    "manifest.json is not JSON": (
        "1",
        lambda v1: (v1 / "manifest.json").write_text('{"schema": 1, "files": {'),
        "manifest.json",
    ),
    "pointer holds garbage": ("banana", None, "production"),
    "pointer names a missing version": ("7", None, "versions/7/manifest.json"),
}


@pytest.mark.parametrize("fault", list(BROKEN), ids=list(BROKEN))
def test_a_broken_manifest_or_pointer_stops_nothing_and_is_named(
    fault: str, two_versions: Path, tmp_path: Path, report
) -> None:
    """Faults the list does not name: every consumer refuses with the file named, the daemon
    starts and answers anyway, and promoting a good version repairs the model."""
    pointer, damage, named = BROKEN[fault]
    world = World(tmp_path / "world", "http://127.0.0.1:9", free_port())
    shutil.copytree(two_versions, world.registry_dir)
    world.write_config()
    (world.registry_dir / MODEL / "production").write_text(pointer + "\n")
    if damage is not None:
        damage(world.registry_dir / MODEL / "versions" / pointer)
    problems = []
    with model_server(world.registry_dir) as url:
        reason = requests.get(url + "/readyz", timeout=5).json().get("reason", "")
        if named not in reason:
            problems.append(f"server start: {reason!r} does not name {named}")
    daemon = _daemon(world)
    try:
        daemon.start(serve_http=False)  # must not raise
        summary = daemon.model_summary(MODEL)
        daemon.run_check(MODEL)
        error = daemon.store.checks.latest(MODEL).error or ""
        if named not in error:
            problems.append(f"daemon check: {error!r} does not name {named}")
        daemon.promoter.promote(MODEL, "2", reason="repair the model with a good version")
        if daemon.registry.production(MODEL) != "2":
            problems.append("promoting a good version did not repair the model")
        if summary["model"] != MODEL:
            problems.append(f"the model summary failed: {summary}")
    finally:
        daemon.stop(0)
    report.record(
        "unnamed faults: broken manifest or pointer",
        trials=3,
        faults=1,
        passes=0 if problems else 3,
        note=fault,
    )
    assert not problems, problems
