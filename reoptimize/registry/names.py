"""Checks on the names a registry is addressed by: models, versions and artifact files.

Every backend applies them before touching storage, so a name can never climb out of its model
(``..``), hide (``.staging``) or smuggle a format that would be deserialized unsafely.
"""

from __future__ import annotations

import re

from reoptimize.registry.registry_errors import RegistryError

# \Z, not $: "$" also matches before a final newline, which would let "m\n" through.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
VERSION_RE = re.compile(r"^[1-9][0-9]{0,8}\Z")
# Formats that are read without unpickling; anything else (.pkl, .pt) is refused at write time.
ALLOWED_SUFFIXES = (".onnx", ".json", ".parquet", ".safetensors", ".md", ".html", ".csv")
MANIFEST_FILE = "manifest.json"


def check_name(name: str, what: str = "model name") -> str:
    """``name`` when it is a valid model name, else :class:`RegistryError` naming it."""
    if not isinstance(name, str) or not NAME_RE.match(name) or name in (".", ".."):
        raise RegistryError(f"invalid {what} {name!r}: expected letters, digits, '_', '.', '-' (at most 63)")
    return name


def check_version(version: str) -> str:
    """``version`` when it is a positive integer in text, else :class:`RegistryError` naming it."""
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise RegistryError(f"invalid version {version!r}: expected a positive integer such as '3'")
    return version


def check_artifact_name(model: str, version: str, name: str) -> str:
    """``name`` when a version may hold a file of that name, else :class:`RegistryError`."""
    if (
        not isinstance(name, str)
        or "/" in name
        or name.startswith(".")
        or not name.endswith(ALLOWED_SUFFIXES)
        or name == MANIFEST_FILE
    ):
        raise RegistryError(f"{model} v{version}: refusing artifact name {name!r}")
    return name
