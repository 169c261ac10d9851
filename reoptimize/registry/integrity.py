"""Re-verify a registry version only when its artifacts change.

Hashing every file of a version at every check would cost a read of the whole model each
minute. :class:`VerifiedVersions` verifies a version once (:meth:`Registry.verify`: every
listed artifact against the manifest's sha256, and nothing unlisted), remembers the version's
:meth:`Registry.change_token`, and verifies again whenever the token changes. The files
backend's token covers each entry's size, inode, and modification and change times, so a file
rewritten in place with its old size and mtime is still noticed.

Example::

    verified = VerifiedVersions(registry)
    manifest = verified.check("digits", "3")   # raises IntegrityError on any mismatch
"""

from __future__ import annotations

import threading

from reoptimize.registry.manifest import Manifest
from reoptimize.registry.registry import Registry
from reoptimize.registry.registry_errors import RegistryError


class VerifiedVersions:
    """A cache of verified versions, keyed by model and version, invalidated by any change."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self._seen: dict[tuple[str, str], tuple[str, Manifest]] = {}
        self._lock = threading.Lock()

    def check(self, model: str, version: str) -> Manifest:
        """The version's manifest, after verifying it if anything changed since the last check."""
        try:
            before: str | None = self.registry.change_token(model, version)
        except RegistryError:
            before = None  # a missing version: verify names what is missing
        with self._lock:
            seen = self._seen.get((model, version))
        if seen is not None and before is not None and seen[0] == before:
            return seen[1]
        manifest = self.registry.verify(model, version)  # raises RegistryError / IntegrityError
        if before is not None:
            with self._lock:
                # The token taken before hashing: a change during the hash is seen next time.
                self._seen[(model, version)] = (before, manifest)
        return manifest
