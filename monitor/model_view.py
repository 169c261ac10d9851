"""What the daemon knows about a model's serving version: manifest, reference profile, log reader.

Built once per production version and reused by every check until the version changes. The
reference profile (drift statistics, confidence calibration) is read from the on-disk cache
when a previous run saved it, so a restart does not recompute it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.config import ModelConfig
from monitor.drift.reference import ReferenceStats
from monitor.profiles import ProfileStore
from monitor.reference_profile import ReferenceProfile
from monitor.sources.prediction_log import PredictionLogReader
from reoptimize.registry import FileRegistry, Manifest


@dataclass
class ModelView:
    model: str
    version: str
    manifest: Manifest
    features: tuple[str, ...]
    profile: ReferenceProfile
    reader: PredictionLogReader
    model_size_bytes: int
    registry: FileRegistry
    profile_from_cache: bool = False
    _runner: Any = field(default=None, repr=False)

    @property
    def stats(self) -> ReferenceStats:
        return self.profile.stats

    def runner(self) -> Any:
        """The version's model on ONNX Runtime (``reoptimize.onnx_model.OnnxModel``), loaded on first use."""
        if self._runner is None:
            from reoptimize.onnx_model import OnnxModel

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
    registry: FileRegistry,
    model: ModelConfig,
    version: str,
    previous: ModelView | None,
    profiles: ProfileStore | None = None,
) -> ModelView:
    manifest = registry.manifest(model.name, version)
    features = tuple(model.features or manifest.features)
    profile, cached = (profiles or ProfileStore(registry, None)).get(model, manifest, features)
    if (
        previous is not None
        and previous.features == features
        and previous.reader.categorical == profile.categorical
    ):
        reader = previous.reader
    else:
        reader = PredictionLogReader(Path(model.data.predictions), model.name, features, profile.categorical)
    size = (registry.version_dir(model.name, version) / "model.onnx").stat().st_size
    return ModelView(
        model=model.name,
        version=version,
        manifest=manifest,
        features=features,
        profile=profile,
        reader=reader,
        model_size_bytes=size,
        registry=registry,
        profile_from_cache=cached,
    )
