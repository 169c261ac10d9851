"""Re-verify a registry version only when its files change on disk.

Hashing every file of a version at every check would cost a read of the whole model each
minute. :class:`VerifiedVersions` hashes a version once (:meth:`FileRegistry.verify`: every
listed file against the manifest's sha256, and no unlisted file), remembers the stat signature
of its directory, and hashes again whenever that signature changes. The signature holds each
entry's size, inode, and modification and change times; the change time (ctime) cannot be set
back by a writer, so a file rewritten in place with its old size and mtime is still noticed.

Example::

    verified = VerifiedVersions(registry)
    manifest = verified.check("digits", "3")   # raises IntegrityError on any mismatch
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from reoptimize.registry.file_registry import FileRegistry, Manifest

Signature = tuple[tuple[str, int, int, int, int], ...]


def signature(folder: Path) -> Signature:
    """(name, size, inode, mtime_ns, ctime_ns) of every entry of ``folder``, sorted by name."""
    entries = []
    with os.scandir(folder) as it:
        for entry in it:
            st = entry.stat(follow_symlinks=False)
            entries.append((entry.name, st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(sorted(entries))


class VerifiedVersions:
    """A cache of verified versions, keyed by model and version, invalidated by any file change."""

    def __init__(self, registry: FileRegistry):
        self.registry = registry
        self._seen: dict[tuple[str, str], tuple[Signature, Manifest]] = {}
        self._lock = threading.Lock()

    def check(self, model: str, version: str) -> Manifest:
        """The version's manifest, after verifying it if anything changed since the last check."""
        folder = self.registry.version_dir(model, version)
        try:
            before = signature(folder)
        except FileNotFoundError:
            before = ()
        with self._lock:
            seen = self._seen.get((model, version))
        if seen is not None and seen[0] == before:
            return seen[1]
        manifest = self.registry.verify(model, version)  # raises RegistryError / IntegrityError
        with self._lock:
            # The signature taken before hashing: a change during the hash is seen next time.
            self._seen[(model, version)] = (before, manifest)
        return manifest
