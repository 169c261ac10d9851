"""Each drift method against SciPy or a hand computation, and the method table."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from monitor.drift.binning import binned_frequencies, sorted_histogram
from monitor.drift.ecdf import energy_distance, ks_statistic, merge_cdfs, wasserstein
from monitor.drift.ks_pvalue import ks_two_sample_pvalue
from monitor.drift.methods import (
    METHODS,
    UnknownMethodError,
    default_method_name,
    get_method,
)
from monitor.drift.reference_stats import build_reference_stats


def _stats(values, categorical: bool = False):
    return build_reference_stats(
        {"x": np.asarray(values)}, categorical=("x",) if categorical else ()
    ).columns["x"]


def _score(name: str, reference, current, categorical: bool = False) -> float:
    column = _stats(reference, categorical)
    current = np.asarray(current)
    current = current.astype(np.float64) if current.dtype.kind in "iufb" else current.astype(object)
    return get_method(name).score(column, current)


RNG = np.random.default_rng(20261128)
SAMPLE_PAIRS = [
    (RNG.normal(size=40), RNG.normal(0.3, size=55)),
    (RNG.normal(size=700), RNG.normal(0.05, 1.2, size=300)),
    (RNG.integers(0, 30, 500).astype(float), RNG.integers(2, 33, 450).astype(float)),  # many ties
    (RNG.exponential(size=1200), RNG.exponential(1.1, size=3000)),
]


@pytest.mark.parametrize(("reference", "current"), SAMPLE_PAIRS)
def test_ecdf_quantities_equal_scipy(reference, current):
    cdfs = merge_cdfs(np.sort(reference), current)
    expected_ks = stats.ks_2samp(reference, current)
    assert ks_statistic(cdfs) == pytest.approx(expected_ks.statistic, abs=1e-12)
    assert wasserstein(cdfs) == pytest.approx(stats.wasserstein_distance(reference, current), rel=1e-12)
    assert energy_distance(cdfs) == pytest.approx(stats.energy_distance(reference, current), rel=1e-10)


@pytest.mark.parametrize(("reference", "current"), SAMPLE_PAIRS)
def test_ks_method_equals_scipy_ks_2samp(reference, current):
    assert _score("ks", reference, current) == pytest.approx(
        stats.ks_2samp(reference, current).pvalue, abs=1e-9
    )


@pytest.mark.parametrize(
    ("n1", "n2", "shift"),
    [(3, 4, 2.0), (25, 25, 0.4), (60, 17, 0.5), (1000, 1000, 0.08), (400, 9000, 0.05), (800, 12000, 0.04)],
)
def test_ks_pvalue_exact_and_asymptotic_paths(n1, n2, shift):
    rng = np.random.default_rng(n1 * 31 + n2)
    a, b = rng.normal(size=n1), rng.normal(shift, size=n2)
    expected = stats.ks_2samp(a, b)
    assert ks_two_sample_pvalue(float(expected.statistic), n1, n2) == pytest.approx(expected.pvalue, abs=1e-9)


def test_ks_pvalue_rejects_empty_samples():
    with pytest.raises(ValueError, match="n1=0"):
        ks_two_sample_pvalue(0.5, 0, 3)


def test_wasserstein_is_normalized_by_reference_population_std():
    reference, current = RNG.normal(2, 3, 800), RNG.normal(2.5, 3, 600)
    expected = stats.wasserstein_distance(reference, current) / np.std(reference)
    assert _score("wasserstein", reference, current) == pytest.approx(expected, rel=1e-12)


def test_wasserstein_of_constant_reference_divides_by_a_thousandth():
    current = np.array([5.0, 5.5, 6.0])
    assert _score("wasserstein", np.full(10, 5.0), current) == pytest.approx(0.5 / 0.001)


def test_chisquare_equals_scipy_with_reference_frequencies_as_expectation():
    reference = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 20, dtype=object)
    current = np.array(["a"] * 30 + ["b"] * 40 + ["c"] * 10, dtype=object)
    expected = stats.chisquare([30, 40, 10], [50 * 0.8, 30 * 0.8, 20 * 0.8]).pvalue
    assert _score("chisquare", reference, current) == pytest.approx(expected, rel=1e-12)


def test_chisquare_category_unseen_in_reference_gives_p_zero():
    assert _score("chisquare", ["a", "b", "a"], ["a", "b", "z"]) == 0.0


def test_chisquare_single_category_is_undefined_and_not_drifted():
    score = _score("chisquare", ["a"] * 5, ["a"] * 3)
    assert math.isnan(score)
    assert get_method("chisquare").drifted(score, 0.05) is False


def test_z_test_by_hand():
    reference = [0] * 30 + [1] * 70
    current = [0] * 50 + [1] * 50
    p1, p2, pooled = 0.7, 0.5, 0.6
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 100))
    assert _score("z", reference, current, categorical=True) == pytest.approx(
        math.erfc(z / math.sqrt(2)), rel=1e-9
    )


def test_z_test_counts_the_share_of_values_other_than_the_smallest():
    # Strings: "no" sorts before "yes", so the proportion compared is that of "yes".
    reference = ["yes"] * 70 + ["no"] * 30
    current = ["yes"] * 50 + ["no"] * 50
    numeric = _score("z", [1] * 70 + [0] * 30, [1] * 50 + [0] * 50, categorical=True)
    assert _score("z", reference, current) == pytest.approx(numeric, rel=1e-12)


def test_z_test_of_two_equal_constants_is_one():
    assert _score("z", [True] * 10, [True] * 4) == 1.0


def test_jensenshannon_categorical_equals_scipy_including_absent_categories():
    reference = ["a"] * 6 + ["b"] * 4
    current = ["a"] * 2 + ["c"] * 8
    expected = distance.jensenshannon([0.6, 0.4, 0.0], [0.2, 0.0, 0.8])
    assert _score("jensenshannon", reference, current) == pytest.approx(expected, rel=1e-12)


def test_jensenshannon_numeric_uses_sturges_bins_over_both_samples():
    reference, current = RNG.normal(size=500), RNG.normal(0.5, size=300)
    edges = np.histogram_bin_edges(np.concatenate([reference, current]), bins="sturges")
    p = np.histogram(reference, edges)[0] / reference.size
    q = np.histogram(current, edges)[0] / current.size
    assert _score("jensenshannon", reference, current) == pytest.approx(
        distance.jensenshannon(p, q), rel=1e-12
    )


def test_few_valued_numeric_column_is_binned_per_value():
    reference = np.array([1.0] * 5 + [2.0] * 5)
    current = np.array([1.0] * 2 + [3.0] * 8)
    p, q = binned_frequencies(_stats(reference), current, fill_zeros=False)
    assert p.tolist() == [0.5, 0.5, 0.0]
    assert q.tolist() == [0.2, 0.0, 0.8]


def test_psi_fills_zero_frequencies_before_the_log():
    reference = ["a"] * 6 + ["b"] * 4
    current = ["a"] * 5 + ["c"] * 5
    p = np.array([0.6, 0.4, 0.0001])
    q = np.array([0.5, 0.0001, 0.5])
    expected = float(np.sum((p - q) * np.log(p / q)))
    assert _score("psi", reference, current) == pytest.approx(expected, rel=1e-12)


def test_fill_uses_a_millionth_of_a_tiny_smallest_frequency():
    reference = ["a"] * 99_999 + ["b"]
    current = ["a"] * 10 + ["c"] * 10
    p, q = binned_frequencies(_stats(reference), np.array(current, dtype=object), fill_zeros=True)
    assert p[2] == pytest.approx(1e-5 / 1e6)
    assert q[1] == 0.0001


def test_kl_div_equals_scipy_entropy_of_filled_frequencies():
    reference = ["a"] * 6 + ["b"] * 4
    current = ["a"] * 5 + ["c"] * 5
    expected = stats.entropy([0.6, 0.4, 0.0001], [0.5, 0.0001, 0.5])
    assert _score("kl_div", reference, current) == pytest.approx(expected, rel=1e-12)


def test_hellinger_categorical_by_hand():
    reference = ["a"] * 5 + ["b"] * 5
    current = ["a"] * 8 + ["b"] * 2
    expected = math.sqrt(1 - (math.sqrt(0.5 * 0.8) + math.sqrt(0.5 * 0.2)))
    assert _score("hellinger", reference, current) == pytest.approx(expected, rel=1e-12)


def test_hellinger_numeric_uses_density_histograms_over_distinct_values():
    reference, current = RNG.normal(size=400), RNG.normal(0.4, size=300)
    edges = np.histogram_bin_edges(np.union1d(reference, current), bins="sturges")
    h1 = np.histogram(reference, edges, density=True)[0]
    h2 = np.histogram(current, edges, density=True)[0]
    width = (edges[-1] - edges[0]) / (edges.size - 1)
    expected = math.sqrt(1 - np.sum(np.sqrt(h1 * h2) * width))
    assert _score("hellinger", reference, current) == pytest.approx(expected, rel=1e-10)


def test_energy_distance_method_equals_scipy():
    reference, current = RNG.normal(size=300), RNG.normal(0.2, size=200)
    assert _score("ed", reference, current) == pytest.approx(
        stats.energy_distance(reference, current), rel=1e-10
    )


@pytest.mark.parametrize(
    ("name", "at_threshold"),
    [
        ("ks", True),
        ("chisquare", False),
        ("z", False),
        ("wasserstein", True),
        ("jensenshannon", True),
        ("psi", True),
        ("kl_div", True),
        ("hellinger", True),
        ("ed", False),
    ],
)
def test_comparison_at_the_threshold_follows_evidently(name, at_threshold):
    method = get_method(name)
    threshold = method.default_threshold
    assert method.drifted(threshold, threshold) is at_threshold
    far = 0.0 if method.kind == "p_value" else 10 * threshold
    assert method.drifted(far, threshold) is True
    assert method.drifted(float("nan"), threshold) is False


def test_table_holds_every_evidently_name_with_its_default_threshold():
    expected = {
        "ks": 0.05,
        "chisquare": 0.05,
        "z": 0.05,
        "wasserstein": 0.1,
        "jensenshannon": 0.1,
        "psi": 0.1,
        "kl_div": 0.1,
        "hellinger": 0.1,
        "ed": 0.1,
    }
    assert {name: method.default_threshold for name, method in METHODS.items()} == expected
    assert get_method("energy_distance") is METHODS["ed"]


def test_unknown_method_error_names_the_column_and_the_choices():
    with pytest.raises(UnknownMethodError, match=r"'anderson' for column 'age'.*wasserstein"):
        get_method("anderson", "age")


@pytest.mark.parametrize(
    ("kind", "rows", "distinct", "expected"),
    [
        ("numeric", 1000, 2, "z"),
        ("numeric", 1000, 3, "chisquare"),
        ("numeric", 1000, 5, "chisquare"),
        ("numeric", 1000, 6, "ks"),
        ("categorical", 1000, 2, "z"),
        ("binary", 10, 1, "z"),
        ("categorical", 1000, 3, "chisquare"),
        ("categorical", 1000, 40, "chisquare"),
        ("numeric", 1001, 5, "jensenshannon"),
        ("numeric", 1001, 6, "wasserstein"),
        ("categorical", 1001, 2, "jensenshannon"),
        ("binary", 5000, 2, "jensenshannon"),
    ],
)
def test_default_rule(kind, rows, distinct, expected):
    assert default_method_name(kind, rows, distinct) == expected


def test_sorted_histogram_equals_numpy_histogram_including_values_on_edges():
    values = np.sort(np.concatenate([RNG.integers(0, 10, 300).astype(float), RNG.normal(5, 2, 300)]))
    edges = np.histogram_bin_edges(values, bins="sturges")
    values = np.sort(np.concatenate([values, edges]))
    assert sorted_histogram(values, edges).tolist() == np.histogram(values, edges)[0].tolist()
