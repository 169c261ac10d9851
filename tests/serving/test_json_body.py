"""The bounded JSON reader every route of the server and the daemon decodes its body with."""

from __future__ import annotations

import json

import pytest

from serving.json_body import MAX_DEPTH, MAX_INT_DIGITS, JSONBodyError, nesting_depth, read_json

DEEP = 100_000

# (body, words the error must contain)
REFUSED = [
    (b"[" * DEEP + b"]" * DEEP, [f"{DEEP} levels deep", f"at most {MAX_DEPTH}"]),
    (b'{"a":' * DEEP + b"1" + b"}" * DEEP, [f"{DEEP} levels deep"]),
    (b"[" * DEEP, [f"{DEEP} levels deep"]),  # never closed: refused before the decoder sees it
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), [f"{MAX_DEPTH + 1} levels deep"]),
    (b"[1e999999]", ["1e999999", "range"]),
    (b"[-1e400]", ["-1e400"]),
    (b"[" + b"7" * 5000 + b"]", ["5000 digits", f"at most {MAX_INT_DIGITS}"]),
    (b"[NaN]", ["NaN", "finite"]),
    (b'{"x": Infinity}', ["Infinity"]),
    (b"[-Infinity]", ["-Infinity"]),
    (b'{"a": "\xff"}', ["not valid JSON", "0xff", "offset 7", "UTF-8"]),
    (b"{oops", ["not valid JSON"]),
    (b"", ["not valid JSON"]),
    (b'["unterminated', ["not valid JSON"]),
]


@pytest.mark.parametrize(("body", "says"), REFUSED, ids=[repr(b[:24]) for b, _ in REFUSED])
def test_refused_bodies_say_what_and_the_limit(body: bytes, says: list[str]) -> None:
    with pytest.raises(JSONBodyError) as caught:
        read_json(body)
    for word in says:
        assert word in str(caught.value), str(caught.value)


def test_bodies_within_bounds_decode_as_json_does() -> None:
    at_limit = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    for body in (
        b'{"rows": [{"f0": 1.5, "f1": -2}], "ids": ["a"]}',
        at_limit,
        b'"[[[["',
        b"7" * MAX_INT_DIGITS,
    ):
        assert read_json(body) == json.loads(body)


def test_non_finite_numbers_pass_for_a_caller_that_names_them_itself() -> None:
    value = read_json(b"[NaN, Infinity, 1e999999]", allow_non_finite=True)
    assert str(value) == "[nan, inf, inf]"
    with pytest.raises(JSONBodyError, match="5000 digits"):
        read_json(b"[" + b"7" * 5000 + b"]", allow_non_finite=True)


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ('["[[[[", {"k]": "{{"}]', 2),  # brackets inside strings do not count
        (r'["\"[[[[\\", [[1]]]', 3),  # nor after escaped quotes and backslashes
        ('[["unterminated [[[[[[', 2),  # an open string runs to the end, as the decoder reads it
        ("]]]][[", 0),  # the decoder stops at the first stray closer
        ("", 0),
    ],
)
def test_nesting_depth_reads_brackets_as_the_decoder_does(text: str, depth: int) -> None:
    assert nesting_depth(text) == depth


def test_quotes_that_never_close_are_read_in_one_pass() -> None:
    # Each quote here opens a string that runs to the end; a pattern that failed and retried at
    # every quote would take quadratic time on this megabyte.
    text = '"\\"' * 350_000
    assert nesting_depth(text + "[[") == 0
