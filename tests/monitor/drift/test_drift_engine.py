"""detect_drift: the prediction column, per-column errors, the dataset rule and the false-alarm options."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.drift.adjust import benjamini_hochberg
from monitor.drift.detect import detect_drift
from monitor.drift.reference_stats import build_reference_stats

RNG = np.random.default_rng(11)


def _reference(rows: int = 500):
    return {
        "a": RNG.normal(size=rows),
        "b": RNG.normal(size=rows),
        "city": RNG.choice(["x", "y", "z"], rows).astype(object),
        "_prediction": RNG.integers(0, 3, rows),
    }


def test_prediction_column_is_scored_but_not_counted():
    stats = build_reference_stats(_reference())
    current = {
        "a": RNG.normal(size=300),
        "b": RNG.normal(2.0, size=300),
        "city": RNG.choice(["x", "y", "z"], 300).astype(object),
        "_prediction": np.full(300, 2),
    }
    result = detect_drift(stats, current)
    assert [feature.column for feature in result.features] == ["a", "b", "city"]
    assert result.prediction is not None and result.prediction.drifted
    assert result.prediction.method == "chisquare"
    assert result.feature("b").drifted and not result.feature("a").drifted
    assert result.drifted_features == 1
    assert result.drift_share == pytest.approx(1 / 3)
    assert result.dataset_drift is False
    assert result.rows == 300


def test_without_prediction_column_everything_is_a_feature():
    stats = build_reference_stats(_reference())
    current = {name: values[:200] for name, values in _reference().items()}
    result = detect_drift(stats, current, prediction_column=None)
    assert result.prediction is None
    assert len(result.features) == 4


def test_dataset_drift_when_the_share_reaches_the_threshold():
    stats = build_reference_stats({"a": RNG.normal(size=400), "b": RNG.normal(size=400)})
    current = {"a": RNG.normal(3.0, size=400), "b": RNG.normal(size=400)}
    result = detect_drift(stats, current, drift_share=0.5)
    assert result.drift_share == 0.5 and result.dataset_drift is True
    assert detect_drift(stats, current, drift_share=0.6).dataset_drift is False


def test_missing_column_and_short_window_are_reported_per_column():
    stats = build_reference_stats(_reference())
    current = {"a": RNG.normal(5.0, size=50), "city": np.array(["x", None] * 2, dtype=object)}
    result = detect_drift(stats, current, min_rows=10)
    assert "'b' is missing from the current window" in result.feature("b").error
    assert (
        "'city' has 2 non-missing values in the window, fewer than min_rows=10"
        in result.feature("city").error
    )
    assert result.feature("b").score is None and not result.feature("b").drifted
    assert "_prediction" in result.prediction.error
    assert result.drifted_features == 1 and result.drift_share == 1.0
    assert set(result.errors) == {"b", "city"}


def test_nothing_scored_gives_unknown_share():
    stats = build_reference_stats({"a": RNG.normal(size=100)})
    result = detect_drift(stats, {})
    assert result.drift_share is None and result.dataset_drift is False and result.rows == 0


def test_wrong_value_type_and_text_windows_are_errors_not_exceptions():
    stats = build_reference_stats(
        {"a": RNG.normal(size=100), "c": RNG.choice(["x", "y"], 100).astype(object)}
    )
    current = {
        "a": np.array(["1.0", "2.0"] * 10, dtype=object),
        "c": np.array([f"id-{i}" for i in range(20)], dtype=object),
    }
    result = detect_drift(stats, current)
    assert "holds string values; expected numbers" in result.feature("a").error
    assert "is text" in result.feature("c").error
    assert result.drift_share is None


def test_window_columns_absent_from_the_reference_are_ignored():
    stats = build_reference_stats({"a": RNG.normal(size=100)})
    result = detect_drift(stats, {"a": RNG.normal(size=50), "new": RNG.normal(size=50)})
    assert [feature.column for feature in result.features] == ["a"]


def test_scores_map_for_measurements():
    stats = build_reference_stats({"a": RNG.normal(size=100), "b": RNG.normal(size=100)})
    result = detect_drift(stats, {"a": RNG.normal(size=100)})
    assert set(result.scores) == {"a", "b"} and result.scores["b"] is None
    assert 0.0 <= result.scores["a"] <= 1.0


@pytest.mark.parametrize(
    ("p_values", "expected"),
    [
        ([0.01, 0.04, 0.03, 0.005, 0.2], [True, True, True, True, False]),
        ([0.02, 0.03], [True, True]),
        ([0.04, 0.5], [False, False]),
        ([0.001, 0.3, 0.04, 0.2], [True, False, False, False]),
        ([], []),
    ],
)
def test_benjamini_hochberg_by_hand(p_values, expected):
    assert benjamini_hochberg(p_values, 0.05) == expected


def test_fdr_level_must_be_a_probability():
    with pytest.raises(ValueError, match="fdr level"):
        benjamini_hochberg([0.1], 1.5)


def test_fdr_removes_chance_alarms_on_a_no_drift_window_with_many_columns():
    rng = np.random.default_rng(5)
    reference = {f"f{i}": rng.normal(size=800) for i in range(200)}
    current = {f"f{i}": rng.normal(size=3000) for i in range(200)}
    stats = build_reference_stats(reference)
    plain = detect_drift(stats, current)
    corrected = detect_drift(stats, current, fdr=0.05)
    assert {feature.method for feature in plain.features} == {"ks"}
    assert plain.drifted_features >= 5  # about 5% of 200 by chance
    # Under no drift at all, Benjamini-Hochberg keeps any alarm at all to about a 5% chance.
    assert corrected.drifted_features <= 2
    assert corrected.drifted_features < plain.drifted_features
    # Scores are unchanged; only the verdicts are corrected.
    assert corrected.scores == plain.scores


def test_effect_size_floor_ignores_negligible_shifts_on_a_large_window():
    rng = np.random.default_rng(6)
    names = [f"f{i}" for i in range(40)]
    reference = {name: rng.normal(size=5000) for name in names}
    current = {name: rng.normal(0.06, size=50_000) for name in names}
    current["f0"] = rng.normal(0.8, size=50_000)  # one real shift
    stats = build_reference_stats(reference, methods=dict.fromkeys(names, "ks"))
    plain = detect_drift(stats, current)
    floored = detect_drift(stats, current, effect_size_floor=0.1)
    assert plain.drifted_features >= 30
    assert floored.drifted_features == 1 and floored.feature("f0").drifted
    assert floored.feature("f1").effect_size == pytest.approx(0.06, abs=0.03)
    assert plain.feature("f1").effect_size is None


def test_effect_size_floor_uses_jensen_shannon_for_categorical_columns():
    rng = np.random.default_rng(8)
    stats = build_reference_stats({"c": rng.choice(["a", "b", "c"], 900, p=[0.5, 0.3, 0.2]).astype(object)})
    current = {"c": rng.choice(["a", "b", "c"], 60_000, p=[0.47, 0.32, 0.21]).astype(object)}
    plain = detect_drift(stats, current)
    floored = detect_drift(stats, current, effect_size_floor=0.1)
    assert plain.feature("c").method == "chisquare" and plain.feature("c").drifted
    assert not floored.feature("c").drifted
    assert 0 < floored.feature("c").effect_size < 0.1


def test_both_options_keep_a_real_drift():
    rng = np.random.default_rng(9)
    reference = {f"f{i}": rng.normal(size=600) for i in range(20)}
    current = {f"f{i}": rng.normal(1.0 if i < 10 else 0.0, size=2000) for i in range(20)}
    result = detect_drift(build_reference_stats(reference), current, fdr=0.05, effect_size_floor=0.1)
    assert {feature.column for feature in result.features if feature.drifted} == {f"f{i}" for i in range(10)}
    assert result.dataset_drift is True


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"drift_share": 0.0}, "drift_share"),
        ({"min_rows": 0}, "min_rows"),
        ({"effect_size_floor": -1}, "floor"),
    ],
)
def test_bad_options_are_refused(option, message):
    stats = build_reference_stats({"a": RNG.normal(size=50)})
    with pytest.raises(ValueError, match=message):
        detect_drift(stats, {"a": RNG.normal(size=50)}, **option)
