"""Validation of /predict bodies: each refusal names the row, feature, value and what was expected."""

from __future__ import annotations

import json

import numpy as np
import pytest

from serving.predict_request import BadRequest, header_request_id, parse_predict_body

FEATURES = ("a", "b", "c")


def body(obj: object) -> bytes:
    return json.dumps(obj).encode()


def good_row(**over: object) -> dict[str, object]:
    return {"a": 1.0, "b": 2, "c": -3.5, **over}


def test_rows_are_put_in_manifest_order_and_ids_kept():
    parsed = parse_predict_body(
        body({"rows": [{"c": 3, "a": 1, "b": 2}, good_row()], "ids": ["x", "y"]}), FEATURES, 10
    )
    np.testing.assert_array_equal(parsed.matrix, [[1, 2, 3], [1, 2, -3.5]])
    assert parsed.ids == ("x", "y")


def test_instances_are_taken_in_feature_order():
    parsed = parse_predict_body(body({"instances": [[1, 2, 3], [4.5, 5, 6]]}), FEATURES, 10)
    np.testing.assert_array_equal(parsed.matrix, [[1, 2, 3], [4.5, 5, 6]])
    assert parsed.ids is None


BAD = [
    # (body bytes, status, fragments the reason must contain)
    (b"{not json", 400, ["not valid JSON"]),
    (b"\xff\xfe", 400, ["not valid JSON"]),
    (body([1, 2]), 400, ["expected a JSON object"]),
    (body({}), 400, ["exactly one of 'rows'", "'instances'"]),
    (body({"rows": [good_row()], "instances": [[1, 2, 3]]}), 400, ["exactly one of"]),
    (body({"rows": [good_row()], "extra": 1}), 400, ["unknown field 'extra'"]),
    (body({"rows": []}), 422, ["rows is []", "non-empty list"]),
    (body({"rows": "abc"}), 422, ['rows is "abc"']),
    (body({"rows": [good_row()] * 4}), 413, ["4 rows", "at most 3"]),
    (body({"rows": [good_row(), 5]}), 422, ["rows[1] is 5", "expected an object"]),
    (body({"rows": [good_row(), {"a": 1, "b": 2}]}), 422, ["rows[1]", "feature 'c' is missing", "a, b, c"]),
    (body({"rows": [{"a": 1}]}), 422, ["feature 'b' is missing (and 1 more)"]),
    (body({"rows": [good_row(z=1)]}), 422, ["rows[0]", "unknown feature 'z'"]),
    (body({"rows": [good_row(), good_row(b="x")]}), 422, ['rows[1].b = "x"', "expected a finite number"]),
    (body({"rows": [good_row(c=None)]}), 422, ["rows[0].c = null", "finite number"]),
    (body({"rows": [good_row(a=True)]}), 422, ["rows[0].a = true"]),
    (body({"rows": [good_row(a=[1])]}), 422, ["rows[0].a = [1]"]),
    (b'{"rows": [{"a": NaN, "b": 1, "c": 2}]}', 422, ["rows[0].a = nan", "finite number"]),
    (b'{"rows": [{"a": 1, "b": -Infinity, "c": 2}]}', 422, ["rows[0].b = -inf"]),
    (body({"rows": [good_row(c=1e39)]}), 422, ["rows[0].c = 1e+39", "float32 range"]),
    (body({"rows": [good_row(c=10**400)]}), 422, ["rows[0].c = 1000", "float32 range"]),
    (body({"instances": [[1, 2, 3], [1, 2]]}), 422, ["instances[1] has 2 values", "expected 3", "a, b, c"]),
    (body({"instances": [[1, 2, 3], {"a": 1}]}), 422, ["instances[1] is", "list of 3 numbers"]),
    (body({"instances": [[1, "x", 3]]}), 422, ['instances[0][1] (b) = "x"']),
    (body({"rows": [good_row()], "ids": ["a", "b"]}), 422, ["ids has 2 entries but there are 1 rows"]),
    (body({"rows": [good_row()], "ids": "a"}), 422, ['ids is "a"']),
    (body({"rows": [good_row()], "ids": [7]}), 422, ["ids[0] = 7", "non-empty string"]),
    (body({"rows": [good_row()] * 2, "ids": ["x", "x"]}), 422, ["duplicates"]),
]


@pytest.mark.parametrize(("raw", "status", "fragments"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_bodies_are_refused_with_a_precise_reason(raw: bytes, status: int, fragments: list[str]):
    with pytest.raises(BadRequest) as caught:
        parse_predict_body(raw, FEATURES, 3)
    assert caught.value.status == status
    for fragment in fragments:
        assert fragment in caught.value.reason


def test_long_feature_lists_are_abbreviated_in_reasons():
    features = tuple(f"p{i}" for i in range(64))
    with pytest.raises(BadRequest) as caught:
        parse_predict_body(body({"instances": [[0.0] * 63]}), features, 10)
    assert "(64 in all)" in caught.value.reason
    assert "p63" not in caught.value.reason


@pytest.mark.parametrize(("header", "expected"), [(None, None), ("", None), ("req-42:a.b_c", "req-42:a.b_c")])
def test_request_id_header_accepted(header, expected):
    assert header_request_id(header) == expected


@pytest.mark.parametrize("header", ["has space", "x" * 121, "semi;colon", "new\nline"])
def test_request_id_header_refused(header):
    with pytest.raises(BadRequest) as caught:
        header_request_id(header)
    assert caught.value.status == 400
    assert "X-Request-ID" in caught.value.reason
