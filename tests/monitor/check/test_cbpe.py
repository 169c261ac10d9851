"""Confidence-based accuracy estimation: the isotonic fit equals scikit-learn's, estimates hold under shift."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.isotonic import IsotonicRegression

from monitor.check.cbpe import MIN_ROWS, estimate_accuracy, fit_calibration, isotonic_fit


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1000).map(lambda i: i / 1000), st.booleans()),
        min_size=MIN_ROWS,
        max_size=400,
    )
)
def test_the_calibration_map_equals_scikit_learn_isotonic(rows) -> None:
    x = np.array([r[0] for r in rows])
    y = np.array([r[1] for r in rows])
    calibration = fit_calibration(x, y)
    reference = IsotonicRegression(out_of_bounds="clip").fit(x, y)
    probe = np.concatenate([x, np.linspace(-0.5, 1.5, 41)])
    assert np.allclose(calibration(probe), reference.predict(probe), atol=1e-9)
    points, values = isotonic_fit(x, y)
    assert np.all(np.diff(values) >= -1e-12) and np.all(np.diff(points) > 0)


@pytest.mark.parametrize("power", [1.0, 2.0, 0.5])
def test_estimates_follow_the_true_accuracy_under_covariate_shift(power: float) -> None:
    """P(correct | confidence) = confidence ** power: calibrated (1) or over/under-confident."""
    rng = np.random.default_rng(int(power * 10))
    reference = rng.uniform(0.34, 1.0, 20000)
    calibration = fit_calibration(reference, rng.random(reference.size) < reference**power)
    for low, high in ((0.34, 0.6), (0.7, 1.0), (0.34, 1.0)):
        window = rng.uniform(low, high, 5000)
        truth = float((rng.random(window.size) < window**power).mean())
        assert estimate_accuracy(calibration, window) == pytest.approx(truth, abs=0.02)


def test_too_few_rows_or_no_confidence_is_unknown() -> None:
    assert fit_calibration(np.full(MIN_ROWS - 1, 0.9), np.ones(MIN_ROWS - 1)) is None
    calibration = fit_calibration(np.linspace(0, 1, 100), np.linspace(0, 1, 100) > 0.5)
    assert estimate_accuracy(calibration, np.array([np.nan, np.nan])) is None
    assert estimate_accuracy(None, np.array([0.5])) is None
