"""What every Registry must do, run against every backend in the table and the in-memory fake.

One parametrized fixture builds a fresh registry of each kind with three backend-specific hooks
(rewrite an artifact behind the registry's back, plant an unlisted one, die in the middle of a
write); every test below uses only the protocol and those hooks. A kind added to
``reoptimize.registry.backends.BACKENDS`` fails ``test_every_backend_in_the_table_is_covered``
until it has a harness here.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reoptimize.registry.backends import BACKENDS, open_registry
from reoptimize.registry.registry import Addendum, Registry
from reoptimize.registry.registry_errors import IntegrityError, RegistryError
from tests.support.fake_registry import MemoryRegistry, WriteInterrupted

ROOT = Path(__file__).resolve().parents[3]
# Run in a child process the failure point kills (SIGKILL) between staging and the rename.
_DYING_WRITE = """
import json, sys
from reoptimize.registry.backends import open_registry
open_registry(json.loads(sys.argv[1])).add_version("m", {"model.onnx": b"never finished"})
"""


@dataclass
class Harness:
    kind: str
    registry: Registry
    rewrite: Callable[[str, str, str, bytes], None]  # (model, version, name, data)
    plant: Callable[[str, str, str, bytes], None]
    interrupted_write: Callable[[], None]  # a write of model "m" that dies before it completes


def _files(tmp_path: Path) -> Harness:
    registry = open_registry({"kind": "files", "path": str(tmp_path / "registry")})

    def put(model: str, version: str, name: str, data: bytes) -> None:
        (tmp_path / "registry" / model / "versions" / version / name).write_bytes(data)

    def dying_write() -> None:
        env = {**os.environ, "MODELHEALTHD_FAILPOINTS": "registry.staging_written"}
        done = subprocess.run(
            [sys.executable, "-c", _DYING_WRITE, json.dumps(registry.settings())],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == -9, done.stderr  # killed at the failure point, not finished

    return Harness("files", registry, put, put, dying_write)


def _memory(tmp_path: Path) -> Harness:
    registry = MemoryRegistry(first_id=7)  # ids need not start at 1

    def dying_write() -> None:
        registry.interrupt_next_write()
        with pytest.raises(WriteInterrupted):
            registry.add_version("m", {"model.onnx": b"never finished", "reference.parquet": b"r"})

    return Harness("memory", registry, registry.tamper, registry.plant, dying_write)


HARNESSES: dict[str, Callable[[Path], Harness]] = {"files": _files, "memory": _memory}


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    yield HARNESSES[request.param](tmp_path)


def _add(registry: Registry, text: str, model: str = "m") -> str:
    files = {"model.onnx": f"model {text}".encode(), "reference.parquet": f"reference {text}".encode()}
    return registry.add_version(model, files, features=("a", "b"), classes=(0, 1)).version


def test_every_backend_in_the_table_is_covered() -> None:
    assert set(BACKENDS) <= set(HARNESSES), set(BACKENDS) - set(HARNESSES)


def test_the_registry_assigns_version_ids_and_lists_them_oldest_first(harness: Harness) -> None:
    registry = harness.registry
    assert registry.versions("m") == [] and registry.production("m") is None
    first = _add(registry, "one")
    second = registry.add_version("m", {"model.onnx": b"model two"}, parent=first, lineage={"job_id": "j"})
    assert int(first) >= 1 and int(second.version) > int(first)
    assert registry.versions("m") == [first, second.version] and "m" in registry.models()
    assert second.parent == first and second.lineage == {"job_id": "j"}
    assert registry.manifest("m", first).files["model.onnx"] == hashlib.sha256(b"model one").hexdigest()
    assert registry.read_bytes("m", second.version, "model.onnx") == b"model two"
    assert registry.size("m", first, "model.onnx") == len(b"model one")
    assert registry.verify("m", first).features == ("a", "b")


def test_finish_builds_what_names_the_version_once_the_registry_assigned_it(harness: Harness) -> None:
    seen: list[str] = []

    def finish(version: str) -> Addendum:
        seen.append(version)
        return Addendum(
            files={"card.md": f"# m v{version}".encode()}, lineage={"gate": f"promote v{version}"}
        )

    manifest = harness.registry.add_version(
        "m", {"model.onnx": b"model"}, lineage={"job_id": "j"}, finish=finish
    )
    assert seen == [manifest.version]
    assert (
        harness.registry.read_bytes("m", manifest.version, "card.md") == f"# m v{manifest.version}".encode()
    )
    assert manifest.lineage == {"job_id": "j", "gate": f"promote v{manifest.version}"}
    assert harness.registry.verify("m", manifest.version) == manifest


def test_a_failed_finish_leaves_no_version(harness: Harness) -> None:
    def finish(version: str) -> Addendum:
        raise ValueError("the card could not be built")

    with pytest.raises(ValueError, match="card"):
        harness.registry.add_version("m", {"model.onnx": b"model"}, finish=finish)
    assert harness.registry.versions("m") == []


def test_the_production_marker_moves_only_to_verified_versions(harness: Harness) -> None:
    registry = harness.registry
    one, two = _add(registry, "one"), _add(registry, "two")
    registry.set_production("m", one)
    assert registry.production("m") == one
    registry.set_production("m", two)
    assert registry.production("m") == two
    registry.set_production("m", one)
    assert registry.production("m") == one
    with pytest.raises(RegistryError, match="does not exist"):
        registry.set_production("m", "99")
    harness.rewrite("m", two, "model.onnx", b"model TWO")
    with pytest.raises(IntegrityError):
        registry.set_production("m", two)
    assert registry.production("m") == one


def test_a_rewritten_artifact_is_refused_naming_it_and_both_hashes(harness: Harness) -> None:
    registry = harness.registry
    version = _add(registry, "one")
    expected = registry.manifest("m", version).files["model.onnx"]
    harness.rewrite("m", version, "model.onnx", b"model ONE")  # same length, other bytes
    with pytest.raises(
        IntegrityError, match="model.onnx has sha256 [0-9a-f]{64}, but the manifest expects"
    ) as refused:
        registry.read_bytes("m", version, "model.onnx")
    assert refused.value.expected == expected
    assert refused.value.actual == hashlib.sha256(b"model ONE").hexdigest()
    with pytest.raises(IntegrityError, match="model.onnx"):
        registry.verify("m", version)
    assert registry.read_bytes("m", version, "reference.parquet") == b"reference one"  # others still read


def test_a_planted_artifact_fails_verification(harness: Harness) -> None:
    version = _add(harness.registry, "one")
    harness.plant("m", version, "evil.pkl", b"\x80\x04.")
    with pytest.raises(IntegrityError, match="evil.pkl is not listed in the manifest"):
        harness.registry.verify("m", version)
    with pytest.raises(RegistryError, match="no file 'evil.pkl' in its manifest"):
        harness.registry.read_bytes("m", version, "evil.pkl")


def test_the_change_token_is_stable_until_an_artifact_changes(harness: Harness) -> None:
    registry = harness.registry
    one, two = _add(registry, "one"), _add(registry, "two")
    token = registry.change_token("m", one)
    registry.set_production("m", one)
    assert registry.change_token("m", one) == token
    harness.rewrite("m", two, "model.onnx", b"model TWO")
    assert registry.change_token("m", one) == token  # another version's change is not this one's
    harness.rewrite("m", one, "reference.parquet", b"reference ONE")
    assert registry.change_token("m", one) != token


def test_an_interrupted_write_is_never_listed_and_recovery_removes_it(harness: Harness) -> None:
    registry = harness.registry
    kept = _add(registry, "one")
    assert registry.recover("m") == []  # nothing to do on a clean registry
    harness.interrupted_write()
    assert registry.versions("m") == [kept]
    removed = registry.recover("m")
    assert removed and all(isinstance(r, str) for r in removed)
    assert registry.recover("m") == []
    after = _add(registry, "two")
    assert registry.versions("m") == [kept, after] and registry.verify("m", after).version == after


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.versions("../etc"), "invalid model name"),
        (lambda r: r.manifest("m", "1/../2"), "invalid version"),
        (lambda r: r.add_version("m", {"reference.parquet": b"r"}), "needs a model.onnx"),
        (lambda r: r.add_version("m", {"model.onnx": b"m", "weights.pkl": b"p"}), "refusing artifact name"),
        (lambda r: r.add_version("m", {"model.onnx": b"m", "../x.onnx": b"p"}), "refusing artifact name"),
    ],
)
def test_bad_names_are_refused_and_write_nothing(
    harness: Harness, call: Callable[[Registry], object], message: str
) -> None:
    with pytest.raises(RegistryError, match=message):
        call(harness.registry)
    assert harness.registry.versions("m") == []


@pytest.mark.parametrize("kind", sorted(BACKENDS))  # the fake lives in one process; it is not in the table
def test_a_backend_from_the_table_rebuilds_itself_from_its_settings(kind: str, tmp_path: Path) -> None:
    registry = HARNESSES[kind](tmp_path).registry
    version = _add(registry, "one")
    registry.set_production("m", version)
    again = open_registry(json.loads(json.dumps(registry.settings())))
    assert again.versions("m") == [version] and again.production("m") == version
    assert again.location == registry.location
