"""Parsing and validation of a ``POST /predict`` body into a feature matrix.

Accepted bodies (a JSON object)::

    {"rows": [{"f0": 1.0, "f1": 2.5, ...}, ...], "ids": ["optional", "per-row id", ...]}
    {"instances": [[1.0, 2.5, ...], ...], "ids": [...]}          # manifest feature order

Every value must be a finite JSON number. ``null``, ``NaN``, ``Infinity``, strings and booleans
are refused: the served models have no notion of a missing value, so a prediction made from one
would be silently wrong. A row must carry exactly the manifest's features, no more and no fewer.

Errors are :class:`BadRequest` with an HTTP status (400 malformed body, 413 too many rows or
too large a body, 422 a value or shape that does not fit the model) and a reason that names
the row, the feature, the value and what was expected.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from serving.json_body import JSONBodyError, read_json

MAX_ID_LENGTH = 128  # the daemon's label API accepts request ids up to 128 characters
# 120 leaves room for the "-<row index>" suffix within the 128 the label API accepts.
_HEADER_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,120}$")
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class BadRequest(Exception):
    """A request the server refuses; ``status`` is the HTTP status, ``reason`` says why."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class PredictRequest:
    matrix: np.ndarray  # float64 [N, F] in manifest feature order, each value within float32 range
    ids: tuple[str, ...] | None


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _feature_list(features: Sequence[str]) -> str:
    shown = ", ".join(features[:8])
    return shown + (f", ... ({len(features)} in all)" if len(features) > 8 else "")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(422, f"{where} = {_show(value)}: expected a finite number")
    number = float(value) if not isinstance(value, int) or abs(value) < 1e300 else math.inf
    if not math.isfinite(number) or abs(number) > _FLOAT32_MAX:
        raise BadRequest(422, f"{where} = {_show(value)}: expected a finite number within float32 range")
    return number


def _check_row(i: int, row: Any, features: Sequence[str], wanted: set[str]) -> list[Any]:
    if not isinstance(row, dict):
        raise BadRequest(422, f"rows[{i}] is {_show(row)}: expected an object of feature name to number")
    if len(row) != len(features) or row.keys() != wanted:
        missing = [f for f in features if f not in row]
        if missing:
            raise BadRequest(
                422,
                f"rows[{i}]: feature {missing[0]!r} is missing"
                f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''};"
                f" expected a number for each of {_feature_list(features)}",
            )
        extra = sorted(k for k in row if k not in wanted)
        raise BadRequest(
            422, f"rows[{i}]: unknown feature {extra[0]!r}; expected only {_feature_list(features)}"
        )
    return [row[name] for name in features]


def _fast_matrix(values: list[list[Any]]) -> np.ndarray | None:
    """The matrix when every value is a plain finite number in float32 range, else ``None``."""
    if not {type(v) for row in values for v in row} <= {int, float}:
        return None
    try:
        arr = np.array(values, dtype=np.float64)
    except (OverflowError, ValueError):
        return None
    if not np.isfinite(arr).all() or (np.abs(arr) > _FLOAT32_MAX).any():
        return None
    return arr


def _rows_matrix(rows: list[Any], features: Sequence[str]) -> np.ndarray:
    wanted = set(features)
    values = [_check_row(i, row, features, wanted) for i, row in enumerate(rows)]
    fast = _fast_matrix(values)
    if fast is not None:
        return fast
    # Slow path, only to name the first offending value.
    for i, row in enumerate(values):
        for j, name in enumerate(features):
            _number(row[j], f"rows[{i}].{name}")
    raise AssertionError("unreachable: the fast path refused values the slow path accepts")


def _instances_matrix(instances: list[Any], features: Sequence[str]) -> np.ndarray:
    for i, inst in enumerate(instances):
        if not isinstance(inst, list):
            raise BadRequest(
                422, f"instances[{i}] is {_show(inst)}: expected a list of {len(features)} numbers"
            )
        if len(inst) != len(features):
            raise BadRequest(
                422,
                f"instances[{i}] has {len(inst)} values; expected {len(features)}"
                f" in the order {_feature_list(features)}",
            )
    fast = _fast_matrix(instances)
    if fast is not None:
        return fast
    for i, inst in enumerate(instances):
        for j, value in enumerate(inst):
            _number(value, f"instances[{i}][{j}] ({features[j]})")
    raise AssertionError("unreachable: the fast path refused values the slow path accepts")


def _ids(value: Any, n_rows: int) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise BadRequest(422, f"ids is {_show(value)}: expected a list of {n_rows} strings, one per row")
    if len(value) != n_rows:
        raise BadRequest(
            422, f"ids has {len(value)} entries but there are {n_rows} rows; expected one id per row"
        )
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item or len(item) > MAX_ID_LENGTH:
            raise BadRequest(
                422, f"ids[{i}] = {_show(item)}: expected a non-empty string of at most {MAX_ID_LENGTH}"
            )
    if len(set(value)) != len(value):
        raise BadRequest(422, "ids contains duplicates; expected a unique id per row")
    return tuple(value)


def parse_predict_body(body: bytes, features: Sequence[str], max_rows: int) -> PredictRequest:
    """Validate a ``/predict`` body against the manifest's features; raises :class:`BadRequest`."""
    try:
        data = read_json(body, allow_non_finite=True)  # named per row and feature below
    except JSONBodyError as exc:
        raise BadRequest(400, str(exc)) from None
    if not isinstance(data, dict):
        raise BadRequest(
            400, f"request body is {_show(data)}: expected a JSON object with 'rows' or 'instances'"
        )
    has_rows, has_instances = "rows" in data, "instances" in data
    if has_rows == has_instances:
        raise BadRequest(400, "request body must have exactly one of 'rows' (objects) or 'instances' (lists)")
    key = "rows" if has_rows else "instances"
    items = data[key]
    if not isinstance(items, list) or not items:
        raise BadRequest(
            422, f"{key} is {_show(items)}: expected a non-empty list of at most {max_rows} rows"
        )
    if len(items) > max_rows:
        raise BadRequest(413, f"{key} has {len(items)} rows; at most {max_rows} are accepted per request")
    unknown = sorted(set(data) - {"rows", "instances", "ids"})
    if unknown:
        raise BadRequest(
            400, f"unknown field {unknown[0]!r} in request body; expected 'rows' or 'instances', and 'ids'"
        )
    matrix = _rows_matrix(items, features) if has_rows else _instances_matrix(items, features)
    return PredictRequest(matrix=matrix, ids=_ids(data.get("ids"), len(items)))


def header_request_id(value: str | None) -> str | None:
    """The ``X-Request-ID`` header if it is a safe id, ``None`` if absent; raises when malformed."""
    if value is None or value == "":
        return None
    if not _HEADER_ID_RE.match(value):
        raise BadRequest(
            400,
            f"X-Request-ID header {_show(value)}: expected 1 to 120 characters of letters, digits, '._:-'",
        )
    return value
