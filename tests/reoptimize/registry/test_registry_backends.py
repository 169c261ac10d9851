"""The backends table: a kind names its module, settings build the backend, and mistakes are named."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reoptimize.registry.backends import BACKENDS, open_registry, registry_settings
from reoptimize.registry.file_registry import FileRegistry
from reoptimize.registry.registry_errors import RegistryError


@pytest.mark.parametrize("kind", sorted(BACKENDS))
def test_every_entry_names_a_class_with_from_settings(kind: str) -> None:
    import importlib

    module, _, name = BACKENDS[kind].partition(":")
    assert callable(getattr(importlib.import_module(module), name).from_settings)


@pytest.mark.parametrize(
    "given",
    [
        lambda root: root,
        lambda root: str(root),
        lambda root: {"kind": "files", "path": str(root)},
        lambda root: {"path": str(root)},
        lambda root: f'{{"kind": "files", "path": "{root}"}}',
    ],
    ids=["path", "path-text", "mapping", "mapping-without-kind", "json-text"],
)
def test_a_path_or_settings_open_a_files_registry(tmp_path: Path, given: Callable[[Path], Any]) -> None:
    registry = open_registry(given(tmp_path))
    assert isinstance(registry, FileRegistry) and registry.location == str(tmp_path)
    assert registry.settings() == {"kind": "files", "path": str(tmp_path)}


def test_an_unknown_kind_is_named_with_the_known_ones() -> None:
    with pytest.raises(RegistryError, match=r"registry.kind: got 'mlfow'; expected one of files"):
        open_registry({"kind": "mlfow", "tracking_uri": "http://127.0.0.1:5000"})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"kind": "files"}, "registry.path: got None; a files registry needs its root directory"),
        ({"kind": "files", "path": ""}, "registry.path: got ''"),
        ({"kind": "files", "path": "r", "alias": "x"}, r"unknown setting\(s\) \['alias'\] for kind 'files'"),
        ('{"kind": "files", "path": ', "not valid JSON"),
        (["files"], "expected a path or a mapping"),
    ],
)
def test_bad_settings_are_named(settings: Any, message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        open_registry(settings)


def test_the_table_imports_a_backend_only_when_its_kind_is_opened() -> None:
    assert registry_settings("/srv/registry") == {"kind": "files", "path": "/srv/registry"}
    probe = (
        "import sys; import reoptimize.registry.backends as b; b.registry_settings('x');"
        " print('reoptimize.registry.file_registry' in sys.modules); b.open_registry('x');"
        " print('reoptimize.registry.file_registry' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False", "True"], done.stderr
