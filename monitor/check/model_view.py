"""What the daemon knows about a model's serving version: manifest, reference profile, log reader.

Built once per production version and reused by every check until the version changes. The
reference profile (drift statistics, confidence calibration) is read from the on-disk cache
when a previous run saved it, so a restart does not recompute it. With a cache the view does
not hold the profile: each check reads it again (a few hundred kB, well under a millisecond),
so the daemon's memory grows with the checks running at once, not with the models watched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.check.profiles import ProfileStore
from monitor.check.reference_profile import ReferenceProfile
from monitor.config import ModelConfig
from monitor.drift.stats import ReferenceStats
from monitor.sources.prediction_log_reader import PredictionLogReader
from reoptimize.registry.manifest import Manifest
from reoptimize.registry.registry import Registry


@dataclass
class ModelView:
    model: str
    version: str
    manifest: Manifest
    features: tuple[str, ...]
    reader: PredictionLogReader
    model_size_bytes: int
    registry: Registry
    load_profile: Callable[[], ReferenceProfile] = field(repr=False)
    profile_from_cache: bool = False
    _runner: Any = field(default=None, repr=False)

    @property
    def profile(self) -> ReferenceProfile:
        """The reference profile; a check takes it once and passes it on."""
        return self.load_profile()

    @property
    def stats(self) -> ReferenceStats:
        return self.load_profile().stats

    def runner(self) -> Any:
        """The version's model on ONNX Runtime (``reoptimize.onnx.onnx_model.OnnxModel``), loaded on first use."""
        if self._runner is None:
            from reoptimize.onnx.onnx_model import OnnxModel

            data = self.registry.read_bytes(self.model, self.version, "model.onnx")
            self._runner = OnnxModel(
                data,
                task=self.manifest.task,
                classes=self.manifest.classes,
                source=f"{self.model} v{self.version} model.onnx",
                memory_arena=False,
            )
        return self._runner


def load_view(
    registry: Registry,
    model: ModelConfig,
    version: str,
    previous: ModelView | None,
    profiles: ProfileStore | None = None,
) -> ModelView:
    manifest = registry.manifest(model.name, version)
    features = tuple(model.features or manifest.features)
    store = profiles or ProfileStore(registry, None)
    profile, cached = store.get(model, manifest, features)
    if (
        previous is not None
        and previous.features == features
        and previous.reader.categorical == profile.categorical
    ):
        reader = previous.reader
    else:
        reader = PredictionLogReader(Path(model.data.predictions), model.name, features, profile.categorical)
    size = registry.size(model.name, version, "model.onnx")
    return ModelView(
        model=model.name,
        version=version,
        manifest=manifest,
        features=features,
        reader=reader,
        model_size_bytes=size,
        registry=registry,
        load_profile=_profile_loader(store, model, manifest, features, profile),
        profile_from_cache=cached,
    )


def _profile_loader(
    store: ProfileStore,
    model: ModelConfig,
    manifest: Manifest,
    features: tuple[str, ...],
    built: ReferenceProfile,
) -> Callable[[], ReferenceProfile]:
    if store.cache is None:  # nothing on disk to read it back from: hold it
        return lambda: built

    def load() -> ReferenceProfile:
        return store.get(model, manifest, features)[0]

    return load
