"""The file registry: versions with hashed manifests, and an atomic production pointer.

Layout::

    <root>/<model>/versions/<version>/model.onnx
                                      /manifest.json
                                      /reference.parquet
                                      /holdout.parquet
                                      /weights.safetensors   (when torch weights exist)
    <root>/<model>/production          the serving version, replaced atomically

Every file is checked against the manifest's sha256 before a caller gets its path, so a
tampered or missing artifact is refused before anything deserializes it. Nothing is pickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reoptimize import failpoints

MANIFEST_SCHEMA = 1
# \Z, not $: "$" also matches before a final newline, which would let "m\n" through.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
VERSION_RE = re.compile(r"^[1-9][0-9]{0,8}\Z")
ALLOWED_SUFFIXES = (".onnx", ".json", ".parquet", ".safetensors", ".md", ".html", ".csv")


class RegistryError(Exception):
    """A registry operation that cannot proceed; the message names the model, version or file."""


class IntegrityError(RegistryError):
    """A file is missing or does not match the sha256 its manifest records."""

    def __init__(self, path: Path, expected: str | None, actual: str | None):
        self.path, self.expected, self.actual = path, expected, actual
        if actual is None:
            detail = f"is missing (the manifest expects sha256 {expected})"
        elif expected is None:
            detail = f"is not listed in the manifest (actual sha256 {actual})"
        else:
            detail = f"has sha256 {actual}, but the manifest expects {expected}"
        super().__init__(f"{path} {detail}; refusing to load it")


def check_name(name: str, what: str = "model name") -> str:
    if not isinstance(name, str) or not NAME_RE.match(name) or name in (".", ".."):
        raise RegistryError(f"invalid {what} {name!r}: expected letters, digits, '_', '.', '-' (at most 63)")
    return name


def check_version(version: str) -> str:
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise RegistryError(f"invalid version {version!r}: expected a positive integer such as '3'")
    return version


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, failpoint: str | None = None) -> None:
    """Write a temp file, fsync it, ``os.replace`` it over ``path``, then fsync the directory."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if failpoint:
            failpoints.hit(failpoint)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


@dataclass(frozen=True)
class Manifest:
    model: str
    version: str
    files: Mapping[str, str]
    created_at: float
    parent: str | None = None
    task: str = "classification"
    features: tuple[str, ...] = ()
    label: str = "label"
    classes: tuple[Any, ...] = ()
    metrics: Mapping[str, Any] = field(default_factory=dict)
    lineage: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    schema: int = MANIFEST_SCHEMA

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "model": self.model,
            "version": self.version,
            "parent": self.parent,
            "created_at": self.created_at,
            "task": self.task,
            "features": list(self.features),
            "label": self.label,
            "classes": list(self.classes),
            "files": dict(self.files),
            "metrics": dict(self.metrics),
            "lineage": dict(self.lineage),
            "extra": dict(self.extra),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str) -> Manifest:
        schema = data.get("schema")
        if schema != MANIFEST_SCHEMA:
            raise RegistryError(
                f"{source}: manifest schema {schema!r} is not supported (expected {MANIFEST_SCHEMA})"
            )
        try:
            return cls(
                model=data["model"],
                version=str(data["version"]),
                parent=data.get("parent"),
                created_at=float(data["created_at"]),
                task=data.get("task", "classification"),
                features=tuple(data.get("features", ())),
                label=data.get("label", "label"),
                classes=tuple(data.get("classes", ())),
                files=dict(data["files"]),
                metrics=dict(data.get("metrics", {})),
                lineage=dict(data.get("lineage", {})),
                extra=dict(data.get("extra", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RegistryError(f"{source}: malformed manifest ({exc!r})") from None


class FileRegistry:
    """A model registry on the local file system. Safe for one writer per model at a time."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    # -- paths ---------------------------------------------------------------------------
    def model_dir(self, model: str) -> Path:
        return self.root / check_name(model)

    def version_dir(self, model: str, version: str) -> Path:
        return self.model_dir(model) / "versions" / check_version(version)

    # -- reads ---------------------------------------------------------------------------
    def models(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and NAME_RE.match(p.name))

    def versions(self, model: str) -> list[str]:
        vdir = self.model_dir(model) / "versions"
        if not vdir.is_dir():
            return []
        found = [p.name for p in vdir.iterdir() if p.is_dir() and VERSION_RE.match(p.name)]
        return sorted(found, key=int)

    def production(self, model: str) -> str | None:
        pointer = self.model_dir(model) / "production"
        try:
            text = pointer.read_text().strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise RegistryError(f"{pointer}: unreadable production pointer ({exc})") from None
        if not VERSION_RE.match(text):
            raise RegistryError(
                f"{pointer}: the production pointer holds {text[:40]!r}, expected a version such as '3'"
                " (promote a good version to repair it)"
            )
        return text

    def manifest(self, model: str, version: str) -> Manifest:
        path = self.version_dir(model, version) / "manifest.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise RegistryError(f"{path} is missing: {model} version {version} does not exist") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RegistryError(f"{path}: not valid JSON ({exc})") from None
        manifest = Manifest.from_json(data, str(path))
        if manifest.model != model or manifest.version != version:
            raise RegistryError(
                f"{path}: manifest says {manifest.model} v{manifest.version}, expected {model} v{version}"
            )
        return manifest

    def file(self, model: str, version: str, name: str) -> Path:
        """The verified path of one artifact; raises :class:`IntegrityError` on any mismatch."""
        manifest = self.manifest(model, version)
        path = self.version_dir(model, version) / name
        expected = manifest.files.get(name)
        if not path.is_file():
            raise IntegrityError(path, expected, None)
        actual = sha256_file(path)
        if expected != actual:
            raise IntegrityError(path, expected, actual)
        return path

    def read_bytes(self, model: str, version: str, name: str) -> bytes:
        """Read an artifact and verify the bytes that were read, so no swap can slip in between."""
        manifest = self.manifest(model, version)
        path = self.version_dir(model, version) / name
        expected = manifest.files.get(name)
        if expected is None or Path(name).name != name:  # nothing unlisted, nothing outside the version
            raise RegistryError(
                f"{model} v{version} has no file {name!r} in its manifest; refusing to read it"
            )
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise IntegrityError(path, expected, None) from None
        actual = hashlib.sha256(data).hexdigest()
        if expected != actual:
            raise IntegrityError(path, expected, actual)
        return data

    def verify(self, model: str, version: str) -> Manifest:
        """Check every file the manifest lists, and that nothing unlisted was planted."""
        manifest = self.manifest(model, version)
        vdir = self.version_dir(model, version)
        for name in manifest.files:
            self.file(model, version, name)
        for path in vdir.iterdir():
            if path.name != "manifest.json" and path.name not in manifest.files:
                raise IntegrityError(path, None, sha256_file(path) if path.is_file() else "directory")
        return manifest

    # -- writes --------------------------------------------------------------------------
    def next_version(self, model: str) -> str:
        versions = self.versions(model)
        staging = self.model_dir(model) / "versions"
        taken = {int(v) for v in versions}
        if staging.is_dir():
            for p in staging.iterdir():
                m = re.match(r"^\.staging-(\d+)-", p.name)
                if m:
                    taken.add(int(m.group(1)))
        return str(max(taken, default=0) + 1)

    def add_version(
        self,
        model: str,
        files: Mapping[str, Path | bytes],
        *,
        parent: str | None = None,
        task: str = "classification",
        features: tuple[str, ...] = (),
        label: str = "label",
        classes: tuple[Any, ...] = (),
        metrics: Mapping[str, Any] | None = None,
        lineage: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        version: str | None = None,
    ) -> Manifest:
        """Write a new version: a staging directory first, then one rename into place.

        A crash at any point leaves either no version or a complete, hashed one.
        """
        check_name(model)
        versions_dir = self.model_dir(model) / "versions"
        versions_dir.mkdir(parents=True, exist_ok=True)
        version = check_version(version or self.next_version(model))
        if "model.onnx" not in files:
            raise RegistryError(f"{model} v{version}: a version needs a model.onnx file")
        staging = Path(tempfile.mkdtemp(prefix=f".staging-{version}-", dir=versions_dir))
        try:
            hashes: dict[str, str] = {}
            for name, content in files.items():
                if (
                    "/" in name
                    or name.startswith(".")
                    or not name.endswith(ALLOWED_SUFFIXES)
                    or name == "manifest.json"
                ):
                    raise RegistryError(f"{model} v{version}: refusing artifact name {name!r}")
                target = staging / name
                if isinstance(content, bytes):
                    target.write_bytes(content)
                else:
                    shutil.copyfile(content, target)
                with open(target, "rb") as fh:
                    os.fsync(fh.fileno())
                hashes[name] = sha256_file(target)
            manifest = Manifest(
                model=model,
                version=version,
                parent=parent,
                created_at=time.time(),
                task=task,
                features=tuple(features),
                label=label,
                classes=tuple(classes),
                files=hashes,
                metrics=dict(metrics or {}),
                lineage=dict(lineage or {}),
                extra=dict(extra or {}),
            )
            (staging / "manifest.json").write_text(json.dumps(manifest.to_json(), indent=2, sort_keys=True))
            with open(staging / "manifest.json", "rb") as fh:
                os.fsync(fh.fileno())
            fsync_dir(staging)
            failpoints.hit("registry.staging_written")
            final = versions_dir / version
            if final.exists():
                raise RegistryError(f"{model} v{version} already exists")
            os.rename(staging, final)
            fsync_dir(versions_dir)
            failpoints.hit("registry.version_renamed")
            return manifest
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def set_production(self, model: str, version: str) -> None:
        """Point production at ``version`` after verifying it; the switch is one atomic rename."""
        self.verify(model, version)
        atomic_write(
            self.model_dir(model) / "production",
            f"{version}\n".encode(),
            failpoint="registry.pointer_temp_written",
        )

    def clean_staging(self, model: str) -> list[Path]:
        """Remove leftovers of interrupted writes (staging dirs, temp pointer files)."""
        removed: list[Path] = []
        mdir = self.model_dir(model)
        for parent in (mdir, mdir / "versions"):
            if not parent.is_dir():
                continue
            for p in parent.iterdir():
                if p.name.startswith(".staging-") or (
                    p.name.startswith(".production.") and p.name.endswith(".tmp")
                ):
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
                    removed.append(p)
        return removed
