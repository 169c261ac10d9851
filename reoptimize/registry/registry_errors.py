"""The registry's errors: every message names the model, version or artifact it is about."""

from __future__ import annotations

from pathlib import Path


class RegistryError(Exception):
    """A registry operation that cannot proceed; the message names the model, version or file."""


class IntegrityError(RegistryError):
    """An artifact is missing, unlisted, or does not match the sha256 its manifest records.

    ``path`` is where the artifact lives in the backend's own terms (a file path, a URI).
    """

    def __init__(self, path: str | Path, expected: str | None, actual: str | None):
        self.path, self.expected, self.actual = path, expected, actual
        if actual is None:
            detail = f"is missing (the manifest expects sha256 {expected})"
        elif expected is None:
            detail = f"is not listed in the manifest (actual sha256 {actual})"
        else:
            detail = f"has sha256 {actual}, but the manifest expects {expected}"
        super().__init__(f"{path} {detail}; refusing to load it")
