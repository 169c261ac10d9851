"""An in-memory :class:`~reoptimize.registry.registry.Registry` shaped like MLflow's model registry.

It stands in for a registry in tests of consumers that need no files (promoter, rule runner,
job), and runs through the same contract tests as every real backend, which shows the protocol
fits a registry that differs from the files backend where MLflow does:

* the registry assigns version ids from a per-model counter that never reuses a number, and
  may start anywhere (``first_id``), so a caller that guessed "the next id" would be caught;
* production is an alias (``champion`` by default) set on a version, not a pointer file;
* a version is created first (pending), then its artifacts are stored and it becomes ready; a
  write interrupted in between leaves a pending version that :meth:`recover` deletes;
* the change token is the version's last-updated counter.

:meth:`tamper`, :meth:`plant` and :meth:`interrupt_next_write` are test hooks standing for a
modified artifact store and a process killed mid-write.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reoptimize.registry.manifest import Manifest
from reoptimize.registry.names import check_artifact_name, check_name, check_version
from reoptimize.registry.registry import Finish
from reoptimize.registry.registry_errors import IntegrityError, RegistryError


class WriteInterrupted(BaseException):
    """The simulated death of the writing process: nothing after it runs, nothing is cleaned up."""


@dataclass
class _Version:
    status: str  # "pending" until every artifact is stored, then "ready"
    updated: int
    files: dict[str, bytes] = field(default_factory=dict)
    manifest: Manifest | None = None


@dataclass
class _Model:
    next_id: int
    versions: dict[str, _Version] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


class MemoryRegistry:
    """A registry held in this process's memory; see the module docstring."""

    def __init__(self, name: str = "test", *, first_id: int = 1, alias: str = "champion"):
        self.name, self.first_id, self.alias = name, first_id, alias
        self._models: dict[str, _Model] = {}
        self._clock = itertools.count(1)
        self._interrupt = False

    @property
    def location(self) -> str:
        return f"memory://{self.name}"

    def settings(self) -> dict[str, Any]:
        return {"kind": "memory", "name": self.name}  # not in the backends table: one process only

    # -- reads ---------------------------------------------------------------------------
    def models(self) -> list[str]:
        return sorted(self._models)

    def versions(self, model: str) -> list[str]:
        entry = self._models.get(check_name(model))
        if entry is None:
            return []
        return sorted((v for v, rec in entry.versions.items() if rec.status == "ready"), key=int)

    def production(self, model: str) -> str | None:
        entry = self._models.get(check_name(model))
        return None if entry is None else entry.aliases.get(self.alias)

    def manifest(self, model: str, version: str) -> Manifest:
        record = self._ready(model, version)
        assert record.manifest is not None  # every ready version has one
        return record.manifest

    def read_bytes(self, model: str, version: str, name: str) -> bytes:
        record = self._ready(model, version)
        assert record.manifest is not None
        expected = record.manifest.files.get(name)
        if expected is None:
            raise RegistryError(
                f"{model} v{version} has no file {name!r} in its manifest; refusing to read it"
            )
        data = record.files.get(name)
        where = self._where(model, version, name)
        if data is None:
            raise IntegrityError(where, expected, None)
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise IntegrityError(where, expected, actual)
        return data

    def size(self, model: str, version: str, name: str) -> int:
        data = self._ready(model, version).files.get(name)
        if data is None:
            raise RegistryError(f"{self._where(model, version, name)} is missing")
        return len(data)

    def verify(self, model: str, version: str) -> Manifest:
        record = self._ready(model, version)
        assert record.manifest is not None
        for name in record.manifest.files:
            self.read_bytes(model, version, name)
        for name, data in record.files.items():
            if name not in record.manifest.files:
                raise IntegrityError(
                    self._where(model, version, name), None, hashlib.sha256(data).hexdigest()
                )
        return record.manifest

    def change_token(self, model: str, version: str) -> str:
        return str(self._ready(model, version).updated)

    # -- writes --------------------------------------------------------------------------
    def add_version(
        self,
        model: str,
        files: Mapping[str, bytes],
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
        entry = self._models.setdefault(check_name(model), _Model(next_id=self.first_id))
        version = str(entry.next_id)
        if "model.onnx" not in files:
            raise RegistryError(f"{model} v{version}: a version needs a model.onnx file")
        entry.next_id += 1  # taken for good, as MLflow never hands a number out twice
        record = entry.versions[version] = _Version(status="pending", updated=next(self._clock))
        try:
            contents, full_lineage = dict(files), dict(lineage or {})
            if finish is not None:
                addendum = finish(version)
                contents.update(addendum.files)
                full_lineage.update(addendum.lineage)
            for name, data in contents.items():
                check_artifact_name(model, version, name)
                record.files[name] = bytes(data)
                if self._interrupt:
                    self._interrupt = False
                    raise WriteInterrupted(f"{model} v{version}: the writer died storing {name}")
            record.manifest = Manifest(
                model=model,
                version=version,
                files={n: hashlib.sha256(d).hexdigest() for n, d in record.files.items()},
                created_at=time.time(),
                parent=parent,
                task=task,
                features=tuple(features),
                label=label,
                classes=tuple(classes),
                metrics=dict(metrics or {}),
                lineage=full_lineage,
                extra=dict(extra or {}),
            )
            record.status, record.updated = "ready", next(self._clock)
            return record.manifest
        except WriteInterrupted:
            raise  # a dead process cleans nothing up
        except BaseException:
            del entry.versions[version]  # a live writer deletes its own pending version
            raise

    def set_production(self, model: str, version: str) -> None:
        self.verify(model, version)
        self._models[model].aliases[self.alias] = version

    def recover(self, model: str) -> list[str]:
        entry = self._models.get(check_name(model))
        if entry is None:
            return []
        pending = [v for v, rec in entry.versions.items() if rec.status == "pending"]
        for version in pending:
            del entry.versions[version]
        return [f"{self.location}/{model}/{v} (pending)" for v in pending]

    # -- test hooks ----------------------------------------------------------------------
    def tamper(self, model: str, version: str, name: str, data: bytes) -> None:
        """Replace a stored artifact's bytes behind the registry's back."""
        record = self._ready(model, version)
        record.files[name], record.updated = data, next(self._clock)

    def plant(self, model: str, version: str, name: str, data: bytes) -> None:
        """Store an artifact the manifest does not list."""
        self.tamper(model, version, name, data)

    def interrupt_next_write(self) -> None:
        """Make the next :meth:`add_version` die (``WriteInterrupted``) after storing one artifact."""
        self._interrupt = True

    # -- helpers -------------------------------------------------------------------------
    def _ready(self, model: str, version: str) -> _Version:
        entry, version = self._models.get(check_name(model)), check_version(version)
        record = entry.versions.get(version) if entry else None
        if record is None or record.status != "ready":
            raise RegistryError(f"{self.location}: {model} version {version} does not exist")
        return record

    def _where(self, model: str, version: str, name: str) -> str:
        return f"{self.location}/{model}/{version}/{name}"
