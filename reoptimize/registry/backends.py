"""Registry backends by kind, and building one from its settings.

A backend is ``module:Class`` in :data:`BACKENDS`; the class has a ``from_settings(settings)``
classmethod taking the settings without ``kind``. Modules are imported only when their kind
is opened, so a backend's client library costs nothing to anyone who does not use it.

Settings are JSON: ``{"kind": "files", "path": "/var/lib/modelhealthd/registry"}``. A plain
path stands for a files registry at that path, as in configs written before kinds existed.

Example::

    registry = open_registry({"kind": "files", "path": "registry"})
    same = open_registry(registry.settings())   # in a worker process
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, cast

from reoptimize.registry.registry import Registry
from reoptimize.registry.registry_errors import RegistryError

BACKENDS: Mapping[str, str] = MappingProxyType(
    {
        "files": "reoptimize.registry.file_registry:FileRegistry",
    }
)
DEFAULT_KIND = "files"

RegistrySettings = Mapping[str, Any] | str | os.PathLike[str]


def registry_settings(value: RegistrySettings) -> dict[str, Any]:
    """``value`` as settings with a ``kind``: a path or path text means a files registry there,
    text starting with ``{`` is parsed as JSON settings, and a mapping is copied."""
    if isinstance(value, os.PathLike):
        return {"kind": DEFAULT_KIND, "path": os.fspath(value)}
    if isinstance(value, str):
        if not value.lstrip().startswith("{"):
            return {"kind": DEFAULT_KIND, "path": value}
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise RegistryError(f"registry settings {value!r}: not valid JSON ({exc})") from None
    if not isinstance(value, Mapping):
        raise RegistryError(
            f"registry settings: got {value!r}; expected a path or a mapping such as"
            ' {"kind": "files", "path": "..."}'
        )
    settings = dict(value)
    settings.setdefault("kind", DEFAULT_KIND)
    return settings


def check_kind(kind: object) -> str:
    """``kind`` when the table knows it, else :class:`RegistryError` naming the known kinds."""
    if not isinstance(kind, str) or kind not in BACKENDS:
        raise RegistryError(f"registry.kind: got {kind!r}; expected one of {', '.join(sorted(BACKENDS))}")
    return kind


def open_registry(settings: RegistrySettings) -> Registry:
    """The registry that ``settings`` describe, built by its backend's ``from_settings``."""
    resolved = registry_settings(settings)
    kind = check_kind(resolved.pop("kind"))
    module_name, _, class_name = BACKENDS[kind].partition(":")
    backend = getattr(importlib.import_module(module_name), class_name)
    return cast(Registry, backend.from_settings(resolved))
