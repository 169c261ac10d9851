"""What the daemon knows about a model's serving version: manifest, reference statistics, log reader.

Built once per production version and reused by every check until the version changes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.config import ModelConfig
from monitor.drift.reference import ReferenceStats, build_reference_stats
from monitor.sources.prediction_log import PredictionLogReader
from reoptimize.registry import FileRegistry, Manifest

RESERVED_COLUMNS = ("_prediction", "_confidence")


@dataclass(frozen=True)
class ReferenceData:
    columns: dict[str, np.ndarray]
    categorical: frozenset[str]
    label: np.ndarray | None


def read_reference(data: bytes, features: tuple[str, ...], label: str, source: str) -> ReferenceData:
    """Columns of a reference Parquet file, numeric as float64 and anything else as categorical."""
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    missing = [f for f in features if f not in table.column_names]
    if missing:
        raise ValueError(f"{source}: reference lacks feature column(s) {missing}")
    columns: dict[str, np.ndarray] = {}
    categorical: set[str] = set()
    for name in (*features, *RESERVED_COLUMNS):
        if name not in table.column_names:
            continue
        values = table.column(name).to_numpy(zero_copy_only=False)
        if values.dtype.kind in "iu":
            columns[name] = values.astype(np.int64)
        elif values.dtype.kind in "fb":
            columns[name] = values.astype(np.float64)
        else:
            columns[name] = np.array([None if v is None else str(v) for v in values], dtype=object)
            categorical.add(name)
    label_values = table.column(label).to_numpy(zero_copy_only=False) if label in table.column_names else None
    return ReferenceData(columns=columns, categorical=frozenset(categorical), label=label_values)


@dataclass
class ModelView:
    version: str
    manifest: Manifest
    features: tuple[str, ...]
    reference: ReferenceData
    stats: ReferenceStats
    reader: PredictionLogReader
    model_size_bytes: int

    @property
    def ranges(self) -> dict[str, tuple[float, float]]:
        out = {}
        for name in self.features:
            values = self.reference.columns.get(name)
            if values is not None and values.dtype != object:
                finite = values[np.isfinite(values)]
                if len(finite):
                    out[name] = (float(finite.min()), float(finite.max()))
        return out


def load_view(
    registry: FileRegistry, model: ModelConfig, version: str, previous: ModelView | None
) -> ModelView:
    manifest = registry.manifest(model.name, version)
    features = tuple(model.features or manifest.features)
    ref_bytes = registry.read_bytes(model.name, version, "reference.parquet")
    reference = read_reference(
        ref_bytes, features, manifest.label, f"{model.name} v{version} reference.parquet"
    )
    stats = build_reference_stats(
        reference.columns,
        methods=dict(model.check.drift_methods),
        categorical=reference.categorical,
    )
    categorical = reference.categorical & set(features)
    if previous is not None and previous.features == features and previous.reader.categorical == categorical:
        reader = previous.reader
    else:
        reader = PredictionLogReader(Path(model.data.predictions), model.name, features, categorical)
    size = (registry.version_dir(model.name, version) / "model.onnx").stat().st_size
    return ModelView(
        version=version,
        manifest=manifest,
        features=features,
        reference=reference,
        stats=stats,
        reader=reader,
        model_size_bytes=size,
    )
