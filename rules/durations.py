"""Durations written the Prometheus way (``30s``, ``5m``, ``1h30m``, ``2d``), and times for people.

Configuration and rule files use the Prometheus notation. Text a person reads gives a moment
in RFC 3339 (:func:`format_time`) or relative to another (:func:`format_since`,
:func:`format_span`); machine fields (JSON, the store, ``/metrics``) keep Unix seconds.
``reoptimize.gate.verdict`` holds the same three functions for the ``reoptimize`` package,
which may not import this one; a test keeps the two identical.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

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
    """A duration in the notation of the config and rule files: ``90`` -> ``90s``, ``120`` -> ``2m``."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


UNKNOWN = "unknown"  # what a time or span that cannot be shown reads as


def _seconds_or_none(value: object) -> float | None:
    # bool is an int, but True is no time; NaN and inf are no time either.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def format_time(at: float | None) -> str:
    """Unix seconds as RFC 3339 in UTC to the second (the fraction is dropped), for people.

    None, a negative, non-finite or out-of-range value reads ``unknown``.

    >>> format_time(1796688168.46)
    '2026-12-08T00:02:48Z'
    """
    seconds = _seconds_or_none(at)
    if seconds is None or seconds < 0:
        return UNKNOWN
    try:
        moment = datetime.fromtimestamp(math.floor(seconds), UTC)
    except (OverflowError, OSError, ValueError):  # beyond the year 9999
        return UNKNOWN
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_span(seconds: float | None) -> str:
    """A length of time for people: ``12 s``, ``3 min``, ``2 h 5 min``, ``3 d``, ``3 d 4 h``.

    Rounded to the second; under a minute it is seconds, under an hour whole minutes, under a
    day hours and minutes, beyond that days and hours. None, non-finite, or negative after
    rounding reads ``unknown``.

    >>> format_span(7500)
    '2 h 5 min'
    """
    value = _seconds_or_none(seconds)
    total = round(value) if value is not None else -1
    if total < 0:  # a span that rounds to 0 s is 0 s, even from a hair below zero (clock jitter)
        return UNKNOWN
    if total < 60:
        return f"{total} s"
    if total < 3600:
        return f"{total // 60} min"
    if total < 86400:
        hours, minutes = divmod(total // 60, 60)
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(total // 3600, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


def format_since(at: float | None, since: float | None) -> str:
    """How long after ``since`` the moment ``at`` came, as :func:`format_span` writes it.

    ``unknown`` when either is missing or ``since`` is later than ``at``; callers add the
    words around it: ``f"{format_since(now, then)} ago"``.

    >>> format_since(1796688168.46, 1796688159.47)
    '9 s'
    """
    end, start = _seconds_or_none(at), _seconds_or_none(since)
    if end is None or start is None:
        return UNKNOWN
    return format_span(end - start)
