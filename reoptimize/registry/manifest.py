"""A version's manifest: what it is (task, features, classes), where it came from, and the
sha256 of every artifact it holds. Stored as JSON with a schema number checked on load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reoptimize.registry.registry_errors import RegistryError

MANIFEST_SCHEMA = 1


@dataclass(frozen=True)
class Manifest:
    """One version's record; ``files`` maps each artifact's name to its sha256."""

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
        """Read a manifest written by :meth:`to_json`; ``source`` names it in errors."""
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
