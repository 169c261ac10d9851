"""The files backend: versions in folders with hashed manifests, and an atomic production pointer.

Layout::

    <root>/<model>/versions/<version>/model.onnx
                                      /manifest.json
                                      /reference.parquet
                                      /holdout.parquet
                                      /weights.safetensors   (when torch weights exist)
    <root>/<model>/production          the serving version, replaced atomically

Versions are numbered 1, 2, 3... per model. A version is written into a staging folder
(``versions/.staging-<n>-*``) and renamed into place, so a crash leaves no version or a complete
one; :meth:`FileRegistry.recover` removes what a crash left. Every artifact is checked against
the manifest's sha256 before a caller gets it. Nothing is pickled.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reoptimize import failpoints
from reoptimize.registry.atomic_files import atomic_write, fsync_dir, sha256_bytes, sha256_file
from reoptimize.registry.manifest import Manifest
from reoptimize.registry.names import (
    MANIFEST_FILE,
    NAME_RE,
    VERSION_RE,
    check_artifact_name,
    check_name,
    check_version,
)
from reoptimize.registry.registry import Finish
from reoptimize.registry.registry_errors import IntegrityError, RegistryError

_STAGING = re.compile(r"^\.staging-(\d+)-")
Signature = tuple[tuple[str, int, int, int, int], ...]


def folder_signature(folder: Path) -> Signature:
    """(name, size, inode, mtime_ns, ctime_ns) of every entry of ``folder``, sorted by name."""
    entries = []
    with os.scandir(folder) as it:
        for entry in it:
            st = entry.stat(follow_symlinks=False)
            entries.append((entry.name, st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(sorted(entries))


class FileRegistry:
    """A model registry on the local file system. Safe for one writer per model at a time."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> FileRegistry:
        """Build from ``{"path": ...}`` (the table in :mod:`reoptimize.registry.backends`)."""
        unknown = sorted(set(settings) - {"path"})
        if unknown:
            raise RegistryError(f"registry: unknown setting(s) {unknown} for kind 'files'; expected path")
        path = settings.get("path")
        if not isinstance(path, str | os.PathLike) or not os.fspath(path):
            raise RegistryError(f"registry.path: got {path!r}; a files registry needs its root directory")
        return cls(os.fspath(path))

    @property
    def location(self) -> str:
        return str(self.root)

    def settings(self) -> dict[str, Any]:
        return {"kind": "files", "path": str(self.root)}

    # -- paths (this backend's own; other code goes through the protocol) -----------------
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
        path = self.version_dir(model, version) / MANIFEST_FILE
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
        """The verified path of one artifact, for tools and tests of this backend only."""
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
        actual = sha256_bytes(data)
        if expected != actual:
            raise IntegrityError(path, expected, actual)
        return data

    def size(self, model: str, version: str, name: str) -> int:
        path = self.version_dir(model, version) / name
        if Path(name).name != name:
            raise RegistryError(f"{model} v{version}: refusing artifact name {name!r}")
        try:
            return path.stat().st_size
        except FileNotFoundError:
            raise RegistryError(f"{path} is missing: {model} v{version} has no {name}") from None

    def verify(self, model: str, version: str) -> Manifest:
        """Check every file the manifest lists, and that nothing unlisted was planted."""
        manifest = self.manifest(model, version)
        vdir = self.version_dir(model, version)
        for name in manifest.files:
            self.file(model, version, name)
        for path in vdir.iterdir():
            if path.name != MANIFEST_FILE and path.name not in manifest.files:
                raise IntegrityError(path, None, sha256_file(path) if path.is_file() else "directory")
        return manifest

    def change_token(self, model: str, version: str) -> str:
        """A digest of every entry's name, size, inode, mtime and ctime in the version folder.

        It covers unlisted entries too (a planted file must be noticed), and the ctime, which a
        writer cannot set back, catches a rewrite that kept the old size and mtime.
        """
        folder = self.version_dir(model, version)
        try:
            signature = folder_signature(folder)
        except FileNotFoundError:
            raise RegistryError(f"{folder} is missing: {model} version {version} does not exist") from None
        return hashlib.sha256(repr(signature).encode()).hexdigest()

    # -- writes --------------------------------------------------------------------------
    def _next_version(self, model: str) -> str:
        # Numbers held by staging folders are taken too: a concurrent or crashed write owns them.
        taken = {int(v) for v in self.versions(model)}
        staging = self.model_dir(model) / "versions"
        if staging.is_dir():
            for p in staging.iterdir():
                m = _STAGING.match(p.name)
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
        features: Sequence[str] = (),
        label: str = "label",
        classes: Sequence[Any] = (),
        metrics: Mapping[str, Any] | None = None,
        lineage: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        finish: Finish | None = None,
    ) -> Manifest:
        """Write the next version: a staging directory first, then one rename into place.

        A crash at any point leaves either no version or a complete, hashed one.
        """
        check_name(model)
        versions_dir = self.model_dir(model) / "versions"
        versions_dir.mkdir(parents=True, exist_ok=True)
        version = self._next_version(model)
        if "model.onnx" not in files:
            raise RegistryError(f"{model} v{version}: a version needs a model.onnx file")
        staging = Path(tempfile.mkdtemp(prefix=f".staging-{version}-", dir=versions_dir))
        try:
            contents, lineage = dict(files), dict(lineage or {})
            if finish is not None:
                addendum = finish(version)
                clash = sorted(set(addendum.files) & set(contents))
                if clash:
                    raise RegistryError(f"{model} v{version}: artifact(s) {clash} given twice")
                contents.update(addendum.files)
                lineage.update(addendum.lineage)
            hashes = {name: self._write_artifact(staging, model, version, name, content)
                      for name, content in contents.items()}  # fmt: skip
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
                lineage=lineage,
                extra=dict(extra or {}),
            )
            self._write_artifact(staging, model, version, MANIFEST_FILE, manifest_bytes(manifest))
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

    @staticmethod
    def _write_artifact(staging: Path, model: str, version: str, name: str, content: Path | bytes) -> str:
        if name != MANIFEST_FILE:
            check_artifact_name(model, version, name)
        target = staging / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            shutil.copyfile(content, target)
        with open(target, "rb") as fh:
            os.fsync(fh.fileno())
        return sha256_file(target)

    def set_production(self, model: str, version: str) -> None:
        """Point production at ``version`` after verifying it; the switch is one atomic rename."""
        self.verify(model, version)
        atomic_write(
            self.model_dir(model) / "production",
            f"{version}\n".encode(),
            failpoint="registry.pointer_temp_written",
        )

    def recover(self, model: str) -> list[str]:
        """Remove leftovers of interrupted writes (staging folders, temp pointer files)."""
        removed: list[str] = []
        mdir = self.model_dir(model)
        for parent in (mdir, mdir / "versions"):
            if not parent.is_dir():
                continue
            for p in parent.iterdir():
                if p.name.startswith(".staging-") or (
                    p.name.startswith(".production.") and p.name.endswith(".tmp")
                ):
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
                    removed.append(str(p))
        return removed


def manifest_bytes(manifest: Manifest) -> bytes:
    """The manifest as this backend stores it: indented, sorted JSON."""
    return json.dumps(manifest.to_json(), indent=2, sort_keys=True).encode()
