"""Raw column arrays to clean values, and the column type Evidently would infer for them.

Evidently 0.7 (``evidently.core.datasets.infer_column_type``) types a column from its pandas
dtype when no ``DataDefinition`` is given:

- float: numerical;
- integer: categorical when it has at most 10 distinct values, else numerical;
- bool (and pandas ``category``): categorical;
- strings: text when more than half of the non-missing values are distinct, else categorical;
- anything else (datetimes, lists, mixed objects): not a drift column.

Before testing, Evidently turns +-inf into NaN and drops missing values on both sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

ColumnKind = Literal["numeric", "categorical", "binary", "text"]
ValueType = Literal["float", "int", "bool", "string"]

INTEGER_CARDINALITY_LIMIT = 10
TEXT_UNIQUE_SHARE = 0.5
BINARY_MAX_VALUES = 2


class UnsupportedColumnError(ValueError):
    """A column whose values cannot be drift-tested (wrong shape, datetimes, mixed objects)."""


@dataclass(frozen=True, eq=False)
class CleanColumn:
    """Non-missing values of one column: float64 for numbers, an object array of ``str`` for strings."""

    values: np.ndarray
    value_type: ValueType
    missing: int


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def _clean_objects(name: str, array: np.ndarray) -> CleanColumn:
    present = [v for v in array.tolist() if not _is_missing(v)]
    missing = len(array) - len(present)
    if all(isinstance(v, str) for v in present):
        return CleanColumn(np.array(present, dtype=object), "string", missing)
    if all(isinstance(v, (int, float)) for v in present):
        values = np.asarray(present, dtype=np.float64)
        is_int = all(isinstance(v, int) and not isinstance(v, bool) for v in present)
        return CleanColumn(values, "int" if is_int else "float", missing)
    kinds = sorted({type(v).__name__ for v in present})
    raise UnsupportedColumnError(
        f"column {name!r}: mixed or unsupported value types {kinds}; expected numbers, booleans or strings"
    )


def clean_column(name: str, raw: object) -> CleanColumn:
    """Drop missing values (None, NaN, +-inf) and convert numbers to float64.

    Raises UnsupportedColumnError naming the column for 2-D input, datetimes, bytes or mixed objects.
    """
    array = np.asarray(raw)
    if array.ndim != 1:
        raise UnsupportedColumnError(f"column {name!r}: expected a 1-D array, got shape {array.shape}")
    code = array.dtype.kind
    if code == "f":
        finite = np.isfinite(array)
        values = array[finite].astype(np.float64, copy=False)
        return CleanColumn(values, "float", int(array.size - values.size))
    if code in "iu":
        return CleanColumn(array.astype(np.float64), "int", 0)
    if code == "b":
        return CleanColumn(array.astype(np.float64), "bool", 0)
    if code in "UT":
        return CleanColumn(array.astype(object), "string", 0)
    if code == "O":
        return _clean_objects(name, array)
    raise UnsupportedColumnError(
        f"column {name!r}: dtype {array.dtype} is not drift-tested; expected numbers, booleans or strings"
    )


def infer_kind(column: CleanColumn, n_unique: int) -> ColumnKind:
    """The column type Evidently infers for these values; ``binary`` marks a categorical of <= 2 values."""
    if column.value_type == "float":
        return "numeric"
    if column.value_type == "int" and n_unique > INTEGER_CARDINALITY_LIMIT:
        return "numeric"
    if column.value_type == "string" and n_unique > column.values.size * TEXT_UNIQUE_SHARE:
        return "text"
    return "binary" if n_unique <= BINARY_MAX_VALUES else "categorical"


def needs_unique_count(value_type: ValueType) -> bool:
    """Whether the kind of a column of this type depends on how many distinct values it holds."""
    return value_type != "float"
