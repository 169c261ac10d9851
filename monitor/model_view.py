"""What the daemon knows about a model's serving version: manifest, reference profile, log reader.

Built once per production version and reused by every check until the version changes. The
reference profile (drift statistics, confidence calibration) is read from the on-disk cache
when a previous run saved it, so a restart does not recompute it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.config import ModelConfig
from monitor.drift.reference import ReferenceStats
from monitor.reference_profile import ReferenceProfile, build_profile, load_profile, profile_key, save_profile
from monitor.sources.prediction_log import PredictionLogReader
from reoptimize.registry import FileRegistry, Manifest

log = logging.getLogger("modelhealthd.view")


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
            )
        return self._runner


def _profile(
    registry: FileRegistry,
    model: ModelConfig,
    manifest: Manifest,
    features: tuple[str, ...],
    cache: Path | None,
) -> tuple[ReferenceProfile, bool]:
    methods = dict(model.check.drift_methods)
    key = profile_key(manifest.files.get("reference.parquet", ""), features, manifest.label, methods)
    path = cache / model.name / f"v{manifest.version}-{key}.npz" if cache is not None else None
    if path is not None:
        cached = load_profile(path, key)
        if cached is not None:
            return cached, True
    data = registry.read_bytes(model.name, manifest.version, "reference.parquet")
    source = f"{model.name} v{manifest.version} reference.parquet"
    profile = build_profile(data, features, manifest.label, methods, source)
    if path is not None:
        try:
            save_profile(path, profile, key)
        except OSError as exc:
            log.warning("cannot save the reference profile %s: %s", path, exc, extra={"model": model.name})
    return profile, False


def load_view(
    registry: FileRegistry,
    model: ModelConfig,
    version: str,
    previous: ModelView | None,
    cache: Path | None = None,
) -> ModelView:
    manifest = registry.manifest(model.name, version)
    features = tuple(model.features or manifest.features)
    profile, cached = _profile(registry, model, manifest, features, cache)
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
