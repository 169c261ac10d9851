"""Durations written the Prometheus way: ``30s``, ``5m``, ``1h30m``, ``2d``."""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: str | int | float) -> float:
    """Seconds in a duration such as ``90s`` or ``1h30m``; a bare number is seconds.

    >>> parse_duration("1m30s")
    90.0
    """
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '30s' or '5m'")
    if isinstance(value, int | float):
        if not math.isfinite(value):  # a NaN cooldown or timeout would never hold, inf never end
            raise ValueError("expected a finite duration such as '30s' or '5m'")
        if value < 0:
            raise ValueError("expected a non-negative duration")
        return float(value)
    text = str(value).strip()
    if not text:
        raise ValueError("expected a duration such as '30s' or '5m', not an empty string")
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        try:
            number = float(text)
        except ValueError:
            raise ValueError("expected a duration such as '30s', '5m' or '1h30m'") from None
        if not math.isfinite(number):
            raise ValueError("expected a finite duration such as '30s' or '5m'")
        if number < 0:
            raise ValueError("expected a non-negative duration")
        return number
    if not math.isfinite(total):
        raise ValueError("expected a finite duration such as '30s' or '5m'")
    return total


def format_duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"
