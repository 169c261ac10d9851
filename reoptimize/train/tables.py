"""Training data: reading tables, deterministic splits, and checks that name what is wrong.

Splits hash a key (the row index, or a request id) with a seed instead of drawing random
numbers, so the same row lands on the same side in every process and every run, and a
row can be re-assigned without knowing the rest of the frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reoptimize.tasks.task import Task, TaskError, task_named, task_names


class DataError(ValueError):
    """Data that cannot be used for training or evaluation; the message names the column and value."""


def load_table(path: str | Path) -> pd.DataFrame:
    """Read a Parquet (``.parquet``/``.pq``) or CSV (``.csv``) file into a DataFrame."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".pq", ".csv"):
        raise DataError(
            f"{path}: unsupported file type {suffix or '(none)'!r}; expected .parquet, .pq or .csv"
        )
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        return pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except Exception as exc:  # the readers raise many unrelated types for a bad file
        kind = "CSV" if suffix == ".csv" else "Parquet"
        raise DataError(f"{path}: cannot read it as {kind} ({type(exc).__name__}: {exc})") from None


def hash_unit(keys: Sequence[Any] | pd.Index | pd.Series, seed: int) -> np.ndarray:
    """Map each key to a number in [0, 1) that depends only on the key and the seed."""
    text = np.array([f"{seed}\x1f{key}" for key in keys], dtype=object)
    hashed = pd.util.hash_array(text) if len(text) else np.array([], dtype=np.uint64)
    return (hashed >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _split_by_unit(df: pd.DataFrame, unit: np.ndarray, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    chosen = unit < fraction
    if len(df) >= 2 and fraction > 0:
        # Tiny frames could land entirely on one side; keep at least one row on each.
        if not chosen.any():
            chosen[int(np.argmin(unit))] = True
        if chosen.all():
            chosen[int(np.argmax(unit))] = False
    return df[~chosen], df[chosen]


def split_holdout(
    df: pd.DataFrame, fraction: float = 0.2, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split into ``(train, holdout)`` by hashing each row's index label with ``seed``.

    The same index label always goes to the same side, so the split is reproducible and
    a holdout row can never reappear in training under the same index.
    """
    if not 0 < fraction < 1:
        raise DataError(f"holdout fraction {fraction!r}: expected a number between 0 and 1")
    return _split_by_unit(df, hash_unit(df.index, seed), fraction)


def split_recent(
    df: pd.DataFrame, id_column: str = "request_id", eval_fraction: float = 0.3, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a labelled recent window into ``(train_part, eval_part)`` by hashing request ids.

    The evaluation part is only ever used to measure candidates, never to train them.
    """
    if id_column not in df.columns:
        raise DataError(
            f"recent window: column {id_column!r} is missing (columns: {', '.join(map(str, df.columns))})"
        )
    if not 0 < eval_fraction < 1:
        raise DataError(f"eval fraction {eval_fraction!r}: expected a number between 0 and 1")
    return _split_by_unit(df, hash_unit(df[id_column].astype(str), seed), eval_fraction)


def _first_bad(df: pd.DataFrame, mask: np.ndarray) -> str:
    return repr(df.index[np.flatnonzero(mask)[0]])


def validate_features(df: pd.DataFrame, features: Sequence[str], where: str = "data") -> None:
    """Every feature column exists, is numeric and holds only finite values."""
    missing = [f for f in features if f not in df.columns]
    if missing:
        raise DataError(
            f"{where}: feature column(s) missing: {', '.join(missing)} ({len(df.columns)} columns present)"
        )
    for name in features:
        column = df[name]
        if not (pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)):
            raise DataError(f"{where}: feature {name!r} has dtype {column.dtype}; expected a numeric column")
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            raise DataError(
                f"{where}: feature {name!r} has {int(bad.sum())} NaN/inf value(s) "
                f"(first at row {_first_bad(df, bad)}); expected finite numbers"
            )


def validate_training_frame(
    df: pd.DataFrame,
    features: Sequence[str],
    label: str,
    task: str | Task,
    classes: Sequence[Any] | None = None,
    where: str = "training data",
) -> None:
    """Raise :class:`DataError` unless ``df`` can train a model of ``task``.

    Checks: rows exist, feature and label columns exist, features are numeric and finite,
    labels are present (finite numbers for regression), a classifier sees at least two
    classes, and, when ``classes`` is given, no label outside it.
    """
    try:
        kind = task_named(task)
    except TaskError:
        known = ", ".join(task_names())
        raise DataError(f"{where}: task {task!r} is not supported; expected one of {known}") from None
    if not len(features):
        raise DataError(f"{where}: no feature columns were given")
    if len(df) == 0:
        raise DataError(f"{where}: the frame has no rows")
    validate_features(df, features, where)
    if label not in df.columns:
        raise DataError(f"{where}: label column {label!r} is missing")
    labels = df[label]
    missing = labels.isna().to_numpy()
    if missing.any():
        raise DataError(
            f"{where}: label {label!r} is missing in {int(missing.sum())} row(s) (first at row {_first_bad(df, missing)})"
        )
    problem = kind.label_problem(labels, label)
    if problem is not None:
        raise DataError(f"{where}: {problem}")
    if kind.has_classes and classes is not None:
        validate_classes(labels, classes, label, where)


def validate_classes(labels: pd.Series, classes: Sequence[Any], label: str, where: str) -> None:
    """Raise :class:`DataError` when a label is not one of the model's ``classes`` (type included:
    the text ``"1"`` is not the class ``1``). A classifier's labels that name classes it does not
    have are a broken feed, not a new class to learn."""
    unknown = sorted({to_scalar(v) for v in labels.unique()} - {to_scalar(c) for c in classes}, key=repr)
    if unknown:
        shown = ", ".join(map(repr, unknown[:5]))
        raise DataError(
            f"{where}: label {label!r} has unknown class(es) {shown}; expected one of {list(classes)}"
        )


def to_scalar(value: Any) -> Any:
    """A NumPy scalar as the plain Python value that JSON and manifests hold."""
    return value.item() if isinstance(value, np.generic) else value


def sorted_classes(labels: pd.Series | np.ndarray | Sequence[Any]) -> tuple[Any, ...]:
    """The sorted unique labels as JSON scalars: the manifest's ``classes``."""
    unique = {to_scalar(v) for v in pd.unique(pd.Series(labels).dropna())}
    try:
        return tuple(sorted(unique))
    except TypeError:
        raise DataError(f"labels mix incomparable types: {sorted(map(repr, unique))[:5]}") from None


def time_range(df: pd.DataFrame, column: str = "ts") -> dict[str, Any]:
    """Row count and, when a time column exists, its first and last value as ISO text.

    A numeric time column holds Unix seconds (as prediction-log readers produce).
    """
    out: dict[str, Any] = {"rows": int(len(df))}
    if column in df.columns and len(df):
        values = df[column]
        unit = "s" if pd.api.types.is_numeric_dtype(values) else None
        stamps = pd.to_datetime(values, utc=True, errors="coerce", unit=unit).dropna()
        if len(stamps):
            out["start"], out["end"] = stamps.min().isoformat(), stamps.max().isoformat()
    return out
