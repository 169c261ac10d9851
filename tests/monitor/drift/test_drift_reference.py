"""Reference statistics: column kinds, stored statistics, method choice and input errors."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.drift.methods import UnknownMethodError
from monitor.drift.reference_stats import build_reference_stats
from monitor.drift.stats import SCHEMA_VERSION

RNG = np.random.default_rng(7)
N = 600


def _build(**extra):
    columns = {
        "height": RNG.normal(170, 10, N),
        "rooms": RNG.integers(1, 6, N),
        "age": RNG.integers(18, 90, N),
        "member": RNG.integers(0, 2, N).astype(bool),
        "city": RNG.choice(["paris", "lyon", "nice"], N).astype(object),
        "note": np.array([f"n{i}" for i in range(N)], dtype=object),
    }
    columns.update(extra)
    return build_reference_stats(columns)


def test_kinds_follow_evidently_inference():
    stats = _build()
    kinds = {name: column.kind for name, column in stats.columns.items()}
    assert kinds == {
        "height": "numeric",
        "rooms": "categorical",  # integers with at most 10 distinct values
        "age": "numeric",
        "member": "binary",
        "city": "categorical",
        "note": "text",  # more than half of the strings are distinct
    }
    assert stats.rows == N
    assert stats.schema_version == SCHEMA_VERSION


def test_numeric_statistics_are_stored_sorted_and_read_only():
    values = RNG.normal(3, 2, N)
    values[::10] = np.nan
    values[5] = np.inf
    column = build_reference_stats({"x": values}).columns["x"]
    finite = values[np.isfinite(values)]
    assert column.n == finite.size
    assert column.missing == N - finite.size
    assert np.array_equal(column.sorted_values, np.sort(finite))
    assert column.std == pytest.approx(np.std(finite))
    assert (column.min, column.max) == (finite.min(), finite.max())
    with pytest.raises(ValueError):
        column.sorted_values[0] = 1.0


def test_category_frequencies():
    column = build_reference_stats({"c": np.array(["a", "b", "a", None, "a"], dtype=object)}).columns["c"]
    assert column.frequencies == {"a": 0.75, "b": 0.25}
    assert column.n == 4 and column.missing == 1


def test_default_methods_small_and_large_reference():
    small = _build()
    assert {n: c.method for n, c in small.columns.items() if c.kind != "text"} == {
        "height": "ks",
        "rooms": "chisquare",
        "age": "ks",
        "member": "z",
        "city": "chisquare",
    }
    large = build_reference_stats({"height": RNG.normal(size=1001), "city": RNG.choice(["a", "b"], 1001)})
    assert large.columns["height"].method == "wasserstein"
    assert large.columns["height"].threshold == 0.1
    assert large.columns["city"].method == "jensenshannon"


def test_user_methods_and_thresholds_win():
    stats = build_reference_stats(
        {"x": RNG.normal(size=50), "c": RNG.choice(["a", "b", "c"], 50)},
        methods={"x": "psi", "c": "hellinger"},
        thresholds={"x": 0.25},
    )
    assert (stats.columns["x"].method, stats.columns["x"].threshold) == ("psi", 0.25)
    assert stats.columns["x"].auto_method is False
    assert (stats.columns["c"].method, stats.columns["c"].threshold) == ("hellinger", 0.1)


def test_categorical_pin_makes_a_numeric_column_categorical():
    stats = build_reference_stats({"code": RNG.normal(size=40).round(0)}, categorical=["code"])
    assert stats.columns["code"].kind in ("categorical", "binary")
    assert stats.columns["code"].method in ("chisquare", "z")


def test_unknown_method_is_refused_with_the_column_name():
    with pytest.raises(UnknownMethodError, match="'x'"):
        build_reference_stats({"x": np.arange(10.0)}, methods={"x": "t_test"})


def test_method_for_another_kind_is_refused():
    with pytest.raises(ValueError, match=r"'c'.*'ks' does not apply to a categorical column"):
        build_reference_stats({"c": np.array(["a", "b", "c"] * 10, dtype=object)}, methods={"c": "ks"})


def test_options_naming_absent_columns_are_refused():
    with pytest.raises(ValueError, match=r"methods names columns not in the reference: \['y'\]"):
        build_reference_stats({"x": np.arange(10.0)}, methods={"y": "ks"})
    with pytest.raises(ValueError, match="categorical names columns"):
        build_reference_stats({"x": np.arange(10.0)}, categorical=["z"])


def test_columns_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="different lengths"):
        build_reference_stats({"a": np.arange(3.0), "b": np.arange(4.0)})


def test_two_dimensional_column_is_refused():
    with pytest.raises(ValueError, match=r"column 'm': expected a 1-D array, got shape \(2, 2\)"):
        build_reference_stats({"m": np.ones((2, 2))})


def test_unsupported_columns_are_skipped_with_a_reason():
    stats = build_reference_stats(
        {
            "ts": np.array(["2026-01-01", "2026-01-02"], dtype="datetime64[D]"),
            "mixed": np.array([1, "a"], dtype=object),
            "x": np.array([1.0, 2.0]),
        }
    )
    assert set(stats.columns) == {"x"}
    assert "datetime64" in stats.skipped["ts"]
    assert "mixed" in stats.skipped["mixed"]


def test_all_missing_column_has_no_method():
    column = build_reference_stats({"x": np.full(5, np.nan)}).columns["x"]
    assert column.n == 0 and column.method is None
