"""Everything a check needs from a version's reference data, computed once and kept on disk.

A profile holds the drift statistics of every feature and of ``_prediction`` (sorted values,
category counts, methods), the confidence calibration for estimated accuracy, and the spread
of the reference predictions. It is built from ``reference.parquet`` the first time a version
is checked and saved as ``<cache>/<model>/v<version>-<key>.npz`` (NumPy arrays, no pickles, a
JSON header with a schema number). The key hashes the reference file's sha256 and every
setting that shapes the statistics, so a restart reuses the file and a changed setting or a
re-registered version rebuilds it.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from monitor.check.cbpe import Calibration, fit_calibration
from monitor.check.performance import label_key
from monitor.drift.reference_stats import build_reference_stats
from monitor.drift.stats import ColumnStats, ReferenceStats

PROFILE_SCHEMA = 2
PREDICTION, CONFIDENCE = "_prediction", "_confidence"
log = logging.getLogger("modelhealthd.profile")


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    stats: ReferenceStats
    categorical: frozenset[str]
    calibration: Calibration | None
    prediction_std: float | None


def read_reference_columns(
    data: bytes, features: Sequence[str], label: str, source: str
) -> tuple[dict[str, np.ndarray], frozenset[str], np.ndarray | None]:
    """Feature, ``_prediction`` and ``_confidence`` columns of a reference Parquet file, and its labels.

    Numbers stay numbers (integers as int64); anything else becomes categorical strings.
    """
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    missing = [f for f in features if f not in table.column_names]
    if missing:
        raise ValueError(f"{source}: reference lacks feature column(s) {missing}")
    columns: dict[str, np.ndarray] = {}
    categorical: set[str] = set()
    for name in (*features, PREDICTION, CONFIDENCE):
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
    labels = table.column(label).to_numpy(zero_copy_only=False) if label in table.column_names else None
    return columns, frozenset(categorical), labels


def build_profile(
    data: bytes, features: Sequence[str], label: str, methods: Mapping[str, str], source: str
) -> ReferenceProfile:
    columns, categorical, labels = read_reference_columns(data, features, label, source)
    confidence = columns.pop(CONFIDENCE, None)
    stats = build_reference_stats(columns, methods=dict(methods), categorical=categorical)
    calibration = None
    predictions = columns.get(PREDICTION)
    if confidence is not None and predictions is not None and labels is not None:
        correct = np.array(
            [label_key(p) == label_key(t) for p, t in zip(predictions.tolist(), labels.tolist(), strict=True)]
        )
        known = np.array([t is not None and t == t for t in labels.tolist()])  # t == t drops NaN labels
        calibration = fit_calibration(confidence[known], correct[known])
    spread = None
    if predictions is not None and predictions.dtype.kind in "fi":
        finite = predictions[np.isfinite(predictions)]
        spread = float(finite.std()) if finite.size else None
    return ReferenceProfile(stats, categorical & set(features), calibration, spread)


def profile_key(
    reference_sha256: str, features: Sequence[str], label: str, methods: Mapping[str, str]
) -> str:
    text = json.dumps(
        {"schema": PROFILE_SCHEMA, "sha": reference_sha256, "features": list(features), "label": label,
         "methods": dict(sorted(methods.items()))},
        sort_keys=True,
    )  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- persistence ------------------------------------------------------------------------------
_COLUMN_FIELDS = ("name", "kind", "value_type", "n", "missing", "std", "min", "max", "method", "threshold",
                  "auto_method", "user_threshold", "categorical_pinned")  # fmt: skip


def _all_distinct(stats: ColumnStats) -> bool:
    return stats.sorted_values is not None and stats.categories.size == stats.sorted_values.size


def _column_arrays(i: int, stats: ColumnStats) -> dict[str, np.ndarray]:
    arrays = {}
    if stats.sorted_values is not None:
        arrays[f"c{i}_sorted"] = stats.sorted_values
    if not _all_distinct(stats):  # otherwise the categories are the sorted values, each counted once
        categories = stats.categories
        arrays[f"c{i}_categories"] = categories.astype(str) if categories.dtype == object else categories
        arrays[f"c{i}_counts"] = stats.counts
    return arrays


def save_profile(path: Path, profile: ReferenceProfile, key: str) -> None:
    """Write the profile atomically (temp file, then rename)."""
    arrays: dict[str, np.ndarray] = {}
    columns = []
    for i, stats in enumerate(profile.stats.columns.values()):
        columns.append(
            {f: getattr(stats, f) for f in _COLUMN_FIELDS}
            | {"strings": stats.categories.dtype == object, "distinct": _all_distinct(stats)}
        )
        arrays.update(_column_arrays(i, stats))
    cal = profile.calibration
    if cal is not None:
        arrays["cal_points"], arrays["cal_values"] = cal.points, cal.values
    header = {
        "schema": PROFILE_SCHEMA,
        "key": key,
        "rows": profile.stats.rows,
        "skipped": dict(profile.stats.skipped),
        "columns": columns,
        "categorical": sorted(profile.categorical),
        "calibration": None
        if cal is None
        else {"rows": cal.rows, "reference_accuracy": cal.reference_accuracy},
        "prediction_std": profile.prediction_std,
    }
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as fh:
        np.savez(fh, allow_pickle=False, **arrays)  # object columns were stored as strings above
    os.replace(temporary, path)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def load_profile(path: Path, key: str) -> ReferenceProfile | None:
    """The saved profile, or ``None`` when the file is absent, of another key or schema, or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            header: dict[str, Any] = json.loads(data["header"].tobytes())
            if header.get("schema") != PROFILE_SCHEMA or header.get("key") != key:
                return None
            columns = {}
            for i, meta in enumerate(header["columns"]):
                fields = {f: meta[f] for f in _COLUMN_FIELDS}
                sorted_values = _frozen(data[f"c{i}_sorted"]) if f"c{i}_sorted" in data else None
                if meta["distinct"]:
                    if sorted_values is None:  # written only beside its sorted values: a damaged file
                        raise ValueError(
                            f"column {meta['name']!r} is marked distinct but has no sorted values"
                        )
                    categories = sorted_values
                    counts = np.broadcast_to(np.int64(1), sorted_values.shape)
                else:
                    categories = data[f"c{i}_categories"]
                    categories = _frozen(categories.astype(object) if meta["strings"] else categories)
                    counts = _frozen(data[f"c{i}_counts"])
                columns[meta["name"]] = ColumnStats(
                    **fields, sorted_values=sorted_values, categories=categories, counts=counts
                )
            cal = header["calibration"]
            calibration = (
                Calibration(data["cal_points"], data["cal_values"], cal["rows"], cal["reference_accuracy"])
                if cal is not None
                else None
            )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable reference profile %s: %s", path, exc)
        return None
    stats = ReferenceStats(
        columns=MappingProxyType(columns), rows=header["rows"], skipped=MappingProxyType(header["skipped"])
    )
    return ReferenceProfile(stats, frozenset(header["categorical"]), calibration, header["prediction_std"])
