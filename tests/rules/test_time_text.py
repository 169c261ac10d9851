"""Times for people: RFC 3339 moments and relative spans, written the same by every package.

``rules.durations`` serves ``rules`` and ``monitor``; ``reoptimize.gate.verdict`` holds its
own copy because ``reoptimize`` may not import ``rules``. Every case runs against both, and
a property test holds them (and the model card, which uses reoptimize's) to one output.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

import reoptimize.gate.verdict as reopt_text
import rules.durations as rules_text
from reoptimize.cards.card import ModelCard
from reoptimize.cards.card_text import card_markdown

IMPLEMENTATIONS = pytest.mark.parametrize("impl", [rules_text, reopt_text], ids=["rules", "reoptimize"])
T = 1796688168.4649158  # 2026-12-08T00:02:48.46Z


@IMPLEMENTATIONS
@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (T, "2026-12-08T00:02:48Z"),
        (1796688168.9999, "2026-12-08T00:02:48Z"),  # the fraction is dropped, never rounded up
        (1796688168, "2026-12-08T00:02:48Z"),
        (0, "1970-01-01T00:00:00Z"),
        (0.5, "1970-01-01T00:00:00Z"),
        (951782400, "2000-02-29T00:00:00Z"),
        (None, "unknown"),
        (-1.0, "unknown"),
        (math.nan, "unknown"),
        (math.inf, "unknown"),
        (1e20, "unknown"),  # past the year 9999
        (True, "unknown"),
        ("1796688168", "unknown"),
    ],
)
def test_format_time(impl, at, expected) -> None:  # noqa: ANN001
    assert impl.format_time(at) == expected


@IMPLEMENTATIONS
@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0 s"),
        (0.4, "0 s"),
        (-0.4, "0 s"),  # rounds to zero: jitter between two clocks, not a negative span
        (9.0, "9 s"),
        (9.5, "10 s"),
        (59.4, "59 s"),
        (59.6, "1 min"),
        (60, "1 min"),
        (119, "1 min"),
        (180, "3 min"),
        (3599, "59 min"),
        (3600, "1 h"),
        (7500, "2 h 5 min"),
        (86399, "23 h 59 min"),
        (86400, "1 d"),
        (3 * 86400, "3 d"),
        (3 * 86400 + 4 * 3600 + 59, "3 d 4 h"),
        (-0.6, "unknown"),
        (-60, "unknown"),
        (None, "unknown"),
        (math.nan, "unknown"),
        (math.inf, "unknown"),
        (False, "unknown"),
    ],
)
def test_format_span(impl, seconds, expected) -> None:  # noqa: ANN001
    assert impl.format_span(seconds) == expected


@IMPLEMENTATIONS
@pytest.mark.parametrize(
    ("at", "since", "expected"),
    [
        (T, T - 9, "9 s"),
        (T, T - 12.3, "12 s"),
        (T, T - 185, "3 min"),
        (T, T, "0 s"),
        (T, T + 30, "unknown"),  # since after at
        (T, None, "unknown"),
        (None, T, "unknown"),
        (T, math.nan, "unknown"),
    ],
)
def test_format_since(impl, at, since, expected) -> None:  # noqa: ANN001
    assert impl.format_since(at, since) == expected


def _card_window_text(at: float) -> str:
    iso = datetime.fromtimestamp(at, UTC).isoformat()
    card = ModelCard(
        "m", "1", None, "classification", ("a",), "label", (),
        lineage={"data_windows": {"train": {"rows": 3, "start": iso, "end": iso}}},
    )  # fmt: skip
    line = next(x for x in card_markdown(card).splitlines() if x.startswith("- train:"))
    return line.split(", ", 1)[1].split(" to ")[0]


@given(
    at=st.floats(min_value=0, max_value=253402300799, allow_nan=False),
    span=st.floats(min_value=-10, max_value=10 * 86400, allow_nan=False),
)
def test_the_packages_write_the_same_text(at: float, span: float) -> None:
    assert rules_text.format_time(at) == reopt_text.format_time(at)
    assert rules_text.format_span(span) == reopt_text.format_span(span)
    assert rules_text.format_since(at + span, at) == reopt_text.format_since(at + span, at)


@pytest.mark.parametrize("at", [0.0, 951782400.25, T, 4102444799.999])
def test_the_model_card_writes_times_as_the_other_packages_do(at: float) -> None:
    assert _card_window_text(at) == rules_text.format_time(at) == reopt_text.format_time(at)
