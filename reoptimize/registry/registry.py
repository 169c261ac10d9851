"""The Registry protocol: versions of models with hashed manifests, and a production marker.

Everything outside a backend talks to a registry through this protocol, never through paths:
artifacts are read with :meth:`Registry.read_bytes` (verified against the manifest's sha256),
the registry assigns every new version's id, and the production marker moves with
:meth:`Registry.set_production`. A backend is one module holding one class, listed in
:mod:`reoptimize.registry.backends` and built from its settings there.

Example::

    registry = open_registry({"kind": "files", "path": "/var/lib/modelhealthd/registry"})
    manifest = registry.add_version("digits", {"model.onnx": onnx_bytes}, features=("a", "b"))
    registry.set_production("digits", manifest.version)
    onnx_bytes = registry.read_bytes("digits", manifest.version, "model.onnx")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from reoptimize.registry.manifest import Manifest


@dataclass(frozen=True)
class Addendum:
    """What a writer adds once the registry has assigned the new version's id.

    Some content names its own version (a model card titled "digits v3", a gate verdict that
    reads "promote v3 over v2"); it cannot be built before the id exists. ``files`` are added
    to the version's artifacts and ``lineage`` entries over the given lineage, before anything
    is hashed into the manifest.
    """

    files: Mapping[str, bytes] = field(default_factory=dict)
    lineage: Mapping[str, Any] = field(default_factory=dict)


Finish = Callable[[str], Addendum]


class Registry(Protocol):
    """A model registry. Versions are immutable once written; only the production marker moves.

    Version ids are positive integers in text (``"3"``), assigned by the registry. Errors are
    :class:`~reoptimize.registry.registry_errors.RegistryError` (an
    :class:`~reoptimize.registry.registry_errors.IntegrityError` for an artifact that does not match
    its manifest), each naming the model, version or artifact.
    """

    @property
    def location(self) -> str:
        """Where the registry lives (a directory, a tracking URI), for messages."""
        ...

    def settings(self) -> dict[str, Any]:
        """JSON settings that build the same registry in another process (``kind`` and arguments)."""
        ...

    def models(self) -> list[str]:
        """Every model with at least a folder or record in the registry, sorted."""
        ...

    def versions(self, model: str) -> list[str]:
        """The model's complete versions, oldest first; a write in progress is not among them."""
        ...

    def production(self, model: str) -> str | None:
        """The version production points at, or None when the model has none."""
        ...

    def manifest(self, model: str, version: str) -> Manifest:
        """The version's manifest; raises RegistryError when the version does not exist."""
        ...

    def read_bytes(self, model: str, version: str, name: str) -> bytes:
        """One artifact's bytes, verified against the manifest's sha256 after they were read."""
        ...

    def size(self, model: str, version: str, name: str) -> int:
        """One artifact's size in bytes, without reading it."""
        ...

    def verify(self, model: str, version: str) -> Manifest:
        """Check every artifact the manifest lists, and that nothing unlisted was planted."""
        ...

    def change_token(self, model: str, version: str) -> str:
        """A cheap token that differs whenever any artifact of the version may have changed.

        Equal tokens let a cache skip :meth:`verify`; it never replaces verification.
        """
        ...

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
        """Write a new version under an id the registry assigns; the manifest names it.

        ``finish(version)``, when given, is called once the id is assigned and its
        :class:`Addendum` is part of the version. A crash at any point leaves no version or a
        complete one (plus leftovers that :meth:`recover` removes). Production is not moved.
        """
        ...

    def set_production(self, model: str, version: str) -> None:
        """Point production at ``version`` after verifying it; readers see the old or the new one."""
        ...

    def recover(self, model: str) -> list[str]:
        """Remove what interrupted writes left behind; returns what was removed (may do nothing)."""
        ...
