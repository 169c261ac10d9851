"""Where a check gets a version's reference profile: memory, the on-disk cache, or a build.

With a cache directory (the daemon's ``<state>/cache/profiles``) a missing profile is built by
``monitor.check.profile_worker`` in a subprocess, together with every other configured model's
missing one, so the first check after a start pays one process start, not one per model.
Without a cache directory (tests, tools) profiles are built in this process.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypedDict

from monitor.check.reference_profile import ReferenceProfile, build_profile, load_profile, profile_key
from monitor.config import ModelConfig
from reoptimize.registry.manifest import Manifest
from reoptimize.registry.registry import Registry
from reoptimize.registry.registry_errors import RegistryError

log = logging.getLogger("modelhealthd.profile")
WORKER_TIMEOUT = 900.0


class ProfileError(RuntimeError):
    """A reference profile could not be built; the message names the model, version and cause."""


class ProfileJob(TypedDict):
    """One profile for ``monitor.check.profile_worker`` to build; it travels as JSON."""

    registry: dict[str, Any]  # the registry's settings
    model: str
    version: str
    features: list[str]
    label: str
    methods: dict[str, str]
    out: str
    key: str


class ProfileStore:
    def __init__(
        self,
        registry: Registry,
        cache: Path | None,
        models: Callable[[], Sequence[ModelConfig]] = lambda: (),
        python: str | None = None,
    ):
        self.registry = registry
        self.cache = cache
        self.models = models
        self.python = python or sys.executable
        # Checks run on several threads: one builds the missing profiles, the others wait for it.
        self._building = threading.Lock()

    def _job(self, model: ModelConfig, manifest: Manifest, features: tuple[str, ...]) -> ProfileJob:
        methods = dict(model.check.drift_methods)
        key = profile_key(manifest.files.get("reference.parquet", ""), features, manifest.label, methods)
        out = self.cache / model.name / f"v{manifest.version}-{key}.npz" if self.cache else None
        return {"registry": self.registry.settings(), "model": model.name, "version": manifest.version,
                "features": list(features), "label": manifest.label, "methods": methods, "out": str(out),
                "key": key}  # fmt: skip

    def get(
        self, model: ModelConfig, manifest: Manifest, features: tuple[str, ...]
    ) -> tuple[ReferenceProfile, bool]:
        """The profile and whether it came from the cache; raises ProfileError when it cannot be built."""
        job = self._job(model, manifest, features)
        if self.cache is None:
            data = self.registry.read_bytes(model.name, manifest.version, "reference.parquet")
            source = f"{model.name} v{manifest.version} reference.parquet"
            return build_profile(data, features, manifest.label, job["methods"], source), False
        cached = load_profile(Path(job["out"]), job["key"])
        if cached is not None:
            return cached, True
        with self._building:
            cached = load_profile(Path(job["out"]), job["key"])  # built while this thread waited
            if cached is not None:
                return cached, True
            errors = self._build([job, *self._other_missing(model.name)])
        built = load_profile(Path(job["out"]), job["key"])
        if built is None:
            why = errors.get(model.name, "the profile worker wrote no profile")
            raise ProfileError(f"{model.name} v{manifest.version}: reference profile: {why}")
        return built, False

    def _other_missing(self, skip: str) -> list[ProfileJob]:
        jobs = []
        for other in self.models():
            if other.name == skip:
                continue
            try:
                version = self.registry.production(other.name)
                if version is None:
                    continue
                manifest = self.registry.manifest(other.name, version)
            except (RegistryError, OSError, ValueError):
                continue  # its own check reports the problem
            job = self._job(other, manifest, tuple(other.features or manifest.features))
            if not Path(job["out"]).is_file():
                jobs.append(job)
        return jobs

    def _build(self, jobs: list[ProfileJob]) -> dict[str, str]:
        """Run the worker on ``jobs``; returns the error message per model that failed."""
        log.info("building %d reference profile(s) in a worker process", len(jobs))
        try:
            done = subprocess.run(
                [self.python, "-m", "monitor.check.profile_worker"],
                input=json.dumps(jobs),
                capture_output=True,
                text=True,
                timeout=WORKER_TIMEOUT,
                cwd=Path(__file__).resolve().parents[2],
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ProfileError(f"the reference profile worker failed: {exc}") from None
        errors = {}
        for line in done.stdout.splitlines():
            try:
                record = json.loads(line)
                errors[record["model"]] = record["error"]
            except (ValueError, KeyError, TypeError):
                continue
        if done.returncode:
            raise ProfileError(
                f"the reference profile worker exited {done.returncode}: {done.stderr[-1000:]}"
            )
        return errors
