"""Reading a JSON request body within bounds, so that no body can crash the handler reading it.

Python's decoder recurses once per nested array or object, so a body of ``[[[[...]]]]`` a few
thousand levels deep raises ``RecursionError`` from inside it; an integer of more digits than
``sys.get_int_max_str_digits()`` raises ``ValueError``; and ``NaN``/``Infinity`` (not JSON,
but accepted by the decoder) or ``1e999999`` (read as ``inf``) reach the handler as values that
cannot be written back as JSON. :func:`read_json` refuses all of these with a
:class:`JSONBodyError` that names what was found and the limit, before the decoder runs:

>>> read_json(b'{"rows": [[1, 2.5]]}')
{'rows': [[1, 2.5]]}
>>> read_json(b"[" * 100 + b"]" * 100)
Traceback (most recent call last):
...
serving.json_body.JSONBodyError: request body nests arrays and objects 100 levels deep; at most 64 are accepted

Used by every route of the model server and of the daemon that reads a JSON body.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

# The bodies of both APIs nest 4 levels (a webhook's alert labels), trigger parameters a few more.
MAX_DEPTH = 64
MAX_INT_DIGITS = 4300  # Python's default int/str conversion limit, fixed here whatever the interpreter says

# A string runs to its closing quote, or to the end of the text when it has none; either way
# the pattern always matches at a quote, so stripping strings takes one linear pass.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JSONBodyError(ValueError):
    """A body that is not JSON, or is JSON beyond the bounds; the message says which and why."""


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text``, counting brackets outside strings.

    For text that is not JSON this is still at least the depth a decoder reaches before its
    first error, because up to that point both read the same brackets and the same strings.
    """
    skeleton = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, skeleton), initial=0))


def _refuse_constant(name: str) -> Any:
    raise JSONBodyError(f"request body has {name}; JSON numbers must be finite")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise JSONBodyError(f"request body has the number {shown}, beyond the range of a float")
    return value


def _bounded_int(text: str) -> int:
    digits = len(text) - text.startswith("-")
    if digits > MAX_INT_DIGITS:
        raise JSONBodyError(
            f"request body has an integer of {digits} digits; at most {MAX_INT_DIGITS} are accepted"
        )
    return int(text)


def read_json(body: bytes | str, max_depth: int = MAX_DEPTH, *, allow_non_finite: bool = False) -> Any:
    """Decode ``body`` (UTF-8) as JSON; raises :class:`JSONBodyError` for anything else.

    Refused: bytes that are not UTF-8, text that is not JSON, nesting deeper than ``max_depth``,
    integers of more than ``MAX_INT_DIGITS`` digits, and, unless ``allow_non_finite`` (for a
    caller that names each bad value itself), ``NaN``/``Infinity`` and floats that overflow.
    """
    if isinstance(body, bytes | bytearray):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JSONBodyError(
                f"request body is not valid JSON: byte {exc.object[exc.start]:#04x} at offset {exc.start}"
                " is not UTF-8"
            ) from None
    else:
        text = body
    # Counting openers is cheap; the scan is needed only when there are enough of them to nest too deep.
    depth = nesting_depth(text) if text.count("[") + text.count("{") > max_depth else 0
    if depth > max_depth:
        raise JSONBodyError(
            f"request body nests arrays and objects {depth} levels deep; at most {max_depth} are accepted"
        )
    try:
        if allow_non_finite:
            return json.loads(text, parse_int=_bounded_int)
        return json.loads(
            text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int
        )
    except json.JSONDecodeError as exc:
        raise JSONBodyError(f"request body is not valid JSON ({exc})") from None
