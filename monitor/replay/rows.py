"""The rows a traffic replay sends: a data file's numeric features and, when present, its labels."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class ReplayData:
    """Feature rows (float64, ``columns`` order) and their labels (``None`` when unlabelled)."""

    columns: tuple[str, ...]
    features: np.ndarray
    labels: tuple[Any, ...] | None
    source: str = "<memory>"

    def __post_init__(self) -> None:
        if self.features.ndim != 2 or self.features.shape[1] != len(self.columns) or len(self.features) == 0:
            raise ValueError(f"{self.source}: expected a non-empty [rows, {len(self.columns)}] feature array")
        if self.labels is not None and len(self.labels) != len(self.features):
            raise ValueError(f"{self.source}: {len(self.labels)} labels for {len(self.features)} rows")


def load_replay_data(path: str | Path, label_column: str | None = "label") -> ReplayData:
    """Read a Parquet or CSV file: every column but ``label_column`` is a numeric feature."""
    import pandas as pd

    path = Path(path)
    suffix = path.suffix.lower()
    try:
        frame = pd.read_parquet(path) if suffix in (".parquet", ".pq") else pd.read_csv(path)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except Exception as exc:  # pandas and pyarrow raise many kinds
        raise ValueError(
            f"{path}: cannot read it as {'Parquet' if suffix in ('.parquet', '.pq') else 'CSV'} ({exc})"
        ) from None
    labels = None
    if label_column and label_column in frame.columns:
        labels = tuple(None if _missing(v) else _plain(v) for v in frame.pop(label_column).tolist())
    for name in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[name]) or pd.api.types.is_bool_dtype(frame[name]):
            raise ValueError(f"{path}: column {name!r} has dtype {frame[name].dtype}; expected numbers")
        missing = int(frame[name].isna().sum())
        if missing:
            # The model server refuses missing values, so every batch holding one would fail.
            raise ValueError(
                f"{path}: column {name!r} has {missing} missing values; expected a number in every row"
            )
    columns = tuple(str(c) for c in frame.columns)
    features = frame.to_numpy(dtype=np.float64)
    if not np.isfinite(features).all():
        col = columns[int(np.argwhere(~np.isfinite(features))[0][1])]
        raise ValueError(f"{path}: column {col!r} holds an infinite value; expected finite numbers")
    return ReplayData(columns, features, labels, str(path))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    value = value.item() if hasattr(value, "item") else value
    return int(value) if isinstance(value, float) and value.is_integer() else value
