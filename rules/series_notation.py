"""Series in promtool's expanding notation, for rule unit tests.

``a+bxN`` is ``a, a+b, ..., a+N*b`` (N+1 values), ``a-bxN`` counts down, ``axN`` repeats ``a``
N+1 times, ``_`` is one unknown sample and ``_xN`` is N unknown samples. Items are separated
by spaces: ``"0.1 0.1+0.1x4 _ _x2 0.9x3"``.
"""

from __future__ import annotations

import math
import re

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_EXPANDING = re.compile(rf"^(?P<start>{_NUMBER})(?:(?P<sign>[-+])(?P<step>{_NUMBER}))?x(?P<count>\d+)$")
_UNKNOWNS = re.compile(r"^_(?:x(?P<count>\d+))?$")
MAX_SAMPLES = 100_000


def parse_series(text: str | int | float) -> list[float | None]:
    """The samples written in ``text``; None marks an unknown sample. Raises ``ValueError`` naming the item."""
    if isinstance(text, bool):
        raise ValueError(f"expected a series such as '1 2 3' or '0+1x10', got {text!r}")
    samples: list[float | None] = []
    for item in str(text).split():
        unknown = _UNKNOWNS.match(item)
        if unknown:
            samples.extend([None] * int(unknown.group("count") or 1))
        elif expanding := _EXPANDING.match(item):
            start, count = float(expanding.group("start")), int(expanding.group("count"))
            step = float(expanding.group("step") or 0.0) * (-1 if expanding.group("sign") == "-" else 1)
            samples.extend(start + i * step for i in range(count + 1))
        else:
            try:
                value = float(item)
            except ValueError:
                raise ValueError(
                    f"cannot read {item!r}; expected a number, '_', 'a+bxN', 'a-bxN' or '_xN'"
                ) from None
            if math.isnan(value):
                raise ValueError(f"cannot read {item!r}; write '_' for an unknown sample")
            samples.append(value)
        if len(samples) > MAX_SAMPLES:
            raise ValueError(f"the series has more than {MAX_SAMPLES} samples")
    if not samples:
        raise ValueError("the series is empty; expected values such as '1 2 3' or '0+1x10'")
    return samples
