import math

import pytest

from monitor.sources.histogram import histogram_quantile, increase

INF = math.inf


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        (0.5, [(0.1, 50), (0.2, 100), (INF, 100)], 0.1),
        (0.75, [(0.1, 50), (0.2, 100), (INF, 100)], 0.15),
        (0.25, [(0.1, 50), (0.2, 100), (INF, 100)], 0.05),
        (0.99, [(0.1, 10), (0.2, 10), (INF, 20)], 0.2),  # rank in +Inf: highest finite bound
        (0.5, [(0.1, 0), (INF, 0)], None),  # no observations: unknown, never 0
        (0.5, [(0.1, 5)], None),  # no +Inf bucket: not a valid histogram
    ],
)
def test_histogram_quantile_matches_promql(q, buckets, expected) -> None:
    got = histogram_quantile(q, buckets)
    assert got == expected if expected is None else got == pytest.approx(expected)


def test_increase_handles_counter_resets() -> None:
    assert increase([1, 5, 9]) == 8
    assert increase([10, 12, 3, 4]) == 2 + 3 + 1
