"""Verified versions: hashed once, and again whenever any file of the version changes on disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reoptimize.registry.file_registry import FileRegistry, IntegrityError
from reoptimize.registry.integrity import VerifiedVersions


@pytest.fixture
def registry(tmp_path: Path) -> FileRegistry:
    registry = FileRegistry(tmp_path / "registry")
    registry.add_version("m", {"model.onnx": b"model", "reference.parquet": b"reference"})
    return registry


def test_a_version_is_hashed_once_until_a_file_changes(registry: FileRegistry, monkeypatch) -> None:
    verified = VerifiedVersions(registry)
    calls = []
    real = registry.verify
    monkeypatch.setattr(registry, "verify", lambda m, v: calls.append(v) or real(m, v))
    assert verified.check("m", "1").version == "1"
    verified.check("m", "1")
    assert calls == ["1"]


def test_a_rewrite_with_the_same_size_and_mtime_is_still_caught(registry: FileRegistry) -> None:
    verified = VerifiedVersions(registry)
    verified.check("m", "1")
    path = registry.version_dir("m", "1") / "model.onnx"
    before = path.stat()
    path.write_bytes(b"MODEL")  # same length
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the old mtime
    with pytest.raises(IntegrityError, match="sha256") as refused:
        verified.check("m", "1")
    assert str(path) in str(refused.value)


def test_a_planted_file_and_a_missing_file_are_refused(registry: FileRegistry) -> None:
    verified = VerifiedVersions(registry)
    verified.check("m", "1")
    planted = registry.version_dir("m", "1") / "evil.pkl"
    planted.write_bytes(b"\x80\x04.")
    with pytest.raises(IntegrityError, match="not listed in the manifest"):
        verified.check("m", "1")
    planted.unlink()
    (registry.version_dir("m", "1") / "reference.parquet").unlink()
    with pytest.raises(IntegrityError, match="is missing \\(the manifest expects sha256 [0-9a-f]{64}\\)"):
        verified.check("m", "1")
