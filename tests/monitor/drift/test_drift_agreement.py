"""The engine's verdicts equal Evidently's DataDriftPreset on the same data, column by column.

Every case runs both on the same pandas frames: Evidently types each column from the current
frame and picks its default test; the engine gets the frames as NumPy arrays. Methods must be the
same, verdicts equal and scores equal to 1e-6 (relative) / 1e-9 (absolute).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from monitor.drift.detect import detect_drift
from monitor.drift.reference_stats import build_reference_stats

Case = Callable[[np.random.Generator], tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]]


def _numeric(n_ref: int, n_cur: int, shift: float) -> Case:
    def build(rng):
        ref = pd.DataFrame({"x": rng.normal(0, 2, n_ref), "y": rng.exponential(1.0, n_ref)})
        cur = pd.DataFrame({"x": rng.normal(2 * shift, 2, n_cur), "y": rng.exponential(1.0 + shift, n_cur)})
        return ref, cur, {}

    return build


def _strings(n_ref: int, n_cur: int, probabilities: list[float]) -> Case:
    def build(rng):
        values = ["red", "green", "blue", "grey"]
        ref = pd.DataFrame({"colour": rng.choice(values, n_ref, p=[0.4, 0.3, 0.2, 0.1])})
        cur = pd.DataFrame({"colour": rng.choice(values, n_cur, p=probabilities)})
        return ref, cur, {}

    return build


def _small_ints(n_ref: int, n_cur: int, shift: int) -> Case:
    def build(rng):
        ref = pd.DataFrame({"rooms": rng.integers(1, 7, n_ref)})
        cur = pd.DataFrame({"rooms": rng.integers(1 + shift, 7 + shift, n_cur)})
        return ref, cur, {}

    return build


def _binary(n_ref: int, n_cur: int, p_cur: float) -> Case:
    def build(rng):
        ref = pd.DataFrame(
            {
                "flag": rng.random(n_ref) < 0.3,
                "bit": (rng.random(n_ref) < 0.3).astype(int),
                "answer": rng.choice(["yes", "no"], n_ref, p=[0.3, 0.7]),
                "half": rng.choice([0.5, 1.5], n_ref, p=[0.3, 0.7]),
            }
        )
        cur = pd.DataFrame(
            {
                "flag": rng.random(n_cur) < p_cur,
                "bit": (rng.random(n_cur) < p_cur).astype(int),
                "answer": rng.choice(["yes", "no"], n_cur, p=[p_cur, 1 - p_cur]),
                "half": rng.choice([0.5, 1.5], n_cur, p=[p_cur, 1 - p_cur]),
            }
        )
        return ref, cur, {}

    return build


def _few_valued_floats(n_ref: int, n_cur: int, extra: bool) -> Case:
    def build(rng):
        levels = [0.25, 0.5, 1.0, 2.0]
        ref = pd.DataFrame({"level": rng.choice(levels, n_ref)})
        current_levels = levels + [4.0, 8.0, 16.0] if extra else levels
        cur = pd.DataFrame({"level": rng.choice(current_levels, n_cur)})
        return ref, cur, {}

    return build


def _constants(n_ref: int, n_cur: int) -> Case:
    def build(rng):
        ref = pd.DataFrame(
            {"k": np.full(n_ref, 3.0), "s": ["same"] * n_ref, "k_then_varied": np.full(n_ref, 1.0)}
        )
        cur = pd.DataFrame(
            {"k": np.full(n_cur, 3.0), "s": ["same"] * n_cur, "k_then_varied": rng.normal(1.0, 0.01, n_cur)}
        )
        return ref, cur, {}

    return build


def _unseen_categories(n_ref: int, n_cur: int) -> Case:
    def build(rng):
        ref = pd.DataFrame(
            {"city": rng.choice(["paris", "lyon", "nice"], n_ref), "code": rng.integers(0, 4, n_ref)}
        )
        cur = pd.DataFrame(
            {
                "city": rng.choice(["paris", "lyon", "nice", "lille"], n_cur, p=[0.3, 0.3, 0.3, 0.1]),
                "code": rng.integers(0, 6, n_cur),
            }
        )
        return ref, cur, {}

    return build


def _missing_values(n_ref: int, n_cur: int) -> Case:
    def build(rng):
        x_ref, x_cur = rng.normal(size=n_ref), rng.normal(0.1, size=n_cur)
        x_ref[::7] = np.nan
        x_cur[::5] = np.inf
        x_cur[1::9] = -np.inf
        city_ref = rng.choice(["a", "b", "c"], n_ref).astype(object)
        city_cur = rng.choice(["a", "b", "c"], n_cur).astype(object)
        city_ref[::11] = None
        city_cur[::3] = None
        return pd.DataFrame({"x": x_ref, "city": city_ref}), pd.DataFrame({"x": x_cur, "city": city_cur}), {}

    return build


def _many_ints(n_ref: int, n_cur: int, shift: int) -> Case:
    def build(rng):
        ref = pd.DataFrame({"age": rng.integers(18, 80, n_ref)})
        cur = pd.DataFrame({"age": rng.integers(18 + shift, 80 + shift, n_cur)})
        return ref, cur, {}

    return build


def _type_from_current_window(rng):
    # 30 distinct integers in the reference, at most 10 in the window: Evidently types the column
    # from the current frame, so it is categorical here and tested with chi-squared.
    ref = pd.DataFrame({"n": rng.integers(0, 30, 600)})
    cur = pd.DataFrame({"n": rng.integers(0, 8, 300)})
    return ref, cur, {}


def _named_methods(n_ref: int, n_cur: int, shift: float) -> Case:
    def build(rng):
        ref = pd.DataFrame(
            {
                "wide": rng.normal(size=n_ref),
                "narrow": rng.choice([1.0, 2.0, 3.0], n_ref),
                "city": rng.choice(["a", "b", "c", "d"], n_ref, p=[0.4, 0.3, 0.2, 0.1]),
                "energy": rng.gamma(2.0, size=n_ref),
                "w_small": rng.normal(size=n_ref),
                "many": rng.choice(["a", "b", "c"], n_ref),
            }
        )
        cur = pd.DataFrame(
            {
                "wide": rng.normal(shift, size=n_cur),
                "narrow": rng.choice([1.0, 2.0, 3.0, 4.0], n_cur),
                "city": rng.choice(["a", "b", "c", "e"], n_cur, p=[0.3, 0.3, 0.2, 0.2]),
                "energy": rng.gamma(2.0 + shift, size=n_cur),
                "w_small": rng.normal(shift / 2, size=n_cur),
                "many": rng.choice(["a", "b", "c"], n_cur, p=[0.5, 0.3, 0.2]),
            }
        )
        return ref, cur, {}

    return build


def _with_methods(build: Case, methods: dict[str, str]) -> Case:
    def wrapped(rng):
        ref, cur, _ = build(rng)
        return ref, cur, methods

    return wrapped


def _mixed(n_ref: int, n_cur: int, drift: bool) -> Case:
    def build(rng):
        s = 0.6 if drift else 0.0
        ref = pd.DataFrame(
            {
                "num": rng.normal(size=n_ref),
                "num2": rng.uniform(0, 10, n_ref),
                "small_int": rng.integers(0, 5, n_ref),
                "big_int": rng.integers(0, 1000, n_ref),
                "flag": rng.random(n_ref) < 0.5,
                "cat": rng.choice(["u", "v", "w"], n_ref),
            }
        )
        cur = pd.DataFrame(
            {
                "num": rng.normal(s, size=n_cur),
                "num2": rng.uniform(s * 5, 10 + s * 5, n_cur),
                "small_int": rng.integers(0, 5, n_cur),
                "big_int": rng.integers(int(s * 500), 1000 + int(s * 500), n_cur),
                "flag": rng.random(n_cur) < 0.5 + s / 2,
                "cat": rng.choice(
                    ["u", "v", "w"], n_cur, p=[1 / 3, 1 / 3, 1 / 3] if not drift else [0.6, 0.2, 0.2]
                ),
            }
        )
        return ref, cur, {}

    return build


NAMED = {"wide": "jensenshannon", "narrow": "psi", "city": "hellinger", "energy": "ed", "w_small": "kl_div"}
CASES: dict[str, Case] = {
    "numeric small ref no drift": _numeric(500, 400, 0.0),
    "numeric small ref drift": _numeric(800, 300, 0.3),
    "numeric large ref no drift": _numeric(3000, 2000, 0.0),
    "numeric large ref drift": _numeric(2500, 1500, 0.2),
    "numeric ref of exactly 1000": _numeric(1000, 1000, 0.08),
    "numeric ref of 1001": _numeric(1001, 700, 0.08),
    "strings small ref no drift": _strings(600, 500, [0.4, 0.3, 0.2, 0.1]),
    "strings small ref drift": _strings(600, 500, [0.25, 0.25, 0.25, 0.25]),
    "strings large ref drift": _strings(4000, 3000, [0.3, 0.3, 0.3, 0.1]),
    "small ints small ref": _small_ints(700, 400, 0),
    "small ints large ref shifted": _small_ints(2000, 1500, 1),
    "binary small ref no drift": _binary(500, 300, 0.3),
    "binary small ref drift": _binary(500, 300, 0.45),
    "binary large ref drift": _binary(3000, 2000, 0.36),
    "few-valued floats small ref": _few_valued_floats(400, 300, False),
    "few-valued floats gain values": _few_valued_floats(400, 300, True),
    "few-valued floats large ref": _few_valued_floats(2000, 800, True),
    "constant columns small ref": _constants(300, 200),
    "constant columns large ref": _constants(1500, 900),
    "unseen categories small ref": _unseen_categories(500, 400),
    "unseen categories large ref": _unseen_categories(2500, 1200),
    "missing values small ref": _missing_values(600, 500),
    "missing values large ref": _missing_values(2400, 800),
    "many ints with ties small ref": _many_ints(900, 900, 2),
    "many ints with ties large ref": _many_ints(5000, 5000, 1),
    "type from the current window": _type_from_current_window,
    "named methods small ref": _with_methods(_named_methods(700, 500, 0.15), NAMED),
    "named methods large ref": _with_methods(_named_methods(3000, 2000, 0.05), NAMED),
    "named cross-size methods": _with_methods(
        _named_methods(600, 400, 0.2),
        {"wide": "wasserstein", "energy": "hellinger", "many": "z", "narrow": "kl_div"},
    ),
    "mixed frame no drift": _mixed(800, 600, False),
    "mixed frame drift": _mixed(2000, 1000, True),
}


def _ours(ref: pd.DataFrame, cur: pd.DataFrame, methods: dict[str, str]):
    stats = build_reference_stats({name: ref[name].to_numpy() for name in ref.columns}, methods=methods)
    return detect_drift(stats, {name: cur[name].to_numpy() for name in cur.columns}, prediction_column=None)


def _same_score(ours: float | None, theirs: float) -> bool:
    if ours is None:
        return math.isnan(theirs)
    return math.isclose(ours, theirs, rel_tol=1e-6, abs_tol=1e-9)


def assert_agreement(evidently_drift, ref, cur, methods) -> int:
    theirs = evidently_drift(ref, cur, methods)
    result = _ours(ref, cur, methods)
    assert set(theirs.columns) == {feature.column for feature in result.features}
    mismatches = []
    for feature in result.features:
        expected = theirs.columns[feature.column]
        assert feature.error is None, feature.error
        if (
            feature.method != expected.method
            or feature.drifted != expected.drifted
            or not _same_score(feature.score, expected.score)
            or feature.threshold != pytest.approx(expected.threshold)
        ):
            mismatches.append((feature, expected))
    assert not mismatches, mismatches
    assert result.drifted_features == sum(verdict.drifted for verdict in theirs.columns.values())
    if not _has_infinities(ref) and not _has_infinities(cur):
        # Evidently's DriftedColumnsCount drops +-inf only from columns that also hold a NaN, so
        # it can count an infinite-valued column as drifted that its own ValueDrift (which always
        # drops them) calls stable. The engine follows ValueDrift.
        assert result.drifted_features == theirs.drifted_count
        assert result.drift_share == pytest.approx(theirs.drifted_share)
    return len(result.features)


def _has_infinities(frame: pd.DataFrame) -> bool:
    numbers = frame.select_dtypes(include="number")
    return bool(np.isinf(numbers.to_numpy(dtype=float)).any()) if not numbers.empty else False


@pytest.mark.parametrize("name", list(CASES))
def test_verdicts_equal_evidently(evidently_drift, name):
    rng = np.random.default_rng(sum(map(ord, name)))
    ref, cur, methods = CASES[name](rng)
    assert_agreement(evidently_drift, ref, cur, methods)


def _random_column(rng: np.random.Generator, n_ref: int, n_cur: int) -> tuple[np.ndarray, np.ndarray]:
    kind = rng.choice(["normal", "ints", "few_ints", "strings", "bool", "levels"])
    shift = rng.choice([0.0, 0.0, rng.uniform(0.02, 0.6)])
    if kind == "normal":
        scale = rng.uniform(0.1, 10)
        return rng.normal(0, scale, n_ref), rng.normal(shift * scale, scale, n_cur)
    if kind == "ints":
        top = int(rng.integers(12, 200))
        return rng.integers(0, top, n_ref), rng.integers(int(shift * top / 3), top, n_cur)
    if kind == "few_ints":
        top = int(rng.integers(2, 8))
        return rng.integers(0, top, n_ref), rng.integers(0, top + int(shift > 0.3), n_cur)
    if kind == "strings":
        values = np.array(["a", "b", "c", "d", "e"][: int(rng.integers(2, 6))], dtype=object)
        weights = rng.dirichlet(np.ones(values.size))
        tilted = weights + shift * rng.dirichlet(np.ones(values.size))
        return rng.choice(values, n_ref, p=weights), rng.choice(values, n_cur, p=tilted / tilted.sum())
    if kind == "bool":
        p = rng.uniform(0.1, 0.9)
        return rng.random(n_ref) < p, rng.random(n_cur) < min(p + shift / 3, 0.99)
    levels = np.round(rng.uniform(0, 5, int(rng.integers(2, 7))), 2)
    return rng.choice(levels, n_ref), rng.choice(levels, n_cur)


ANY_KIND_METHODS = ["jensenshannon", "psi", "kl_div", "hellinger"]
FLOAT_METHODS = ANY_KIND_METHODS + ["ks", "wasserstein", "ed"]


@pytest.mark.parametrize("seed", range(16))
def test_randomized_cases_agree(evidently_drift, seed):
    """Random frames of every column type; from seed 10 on, each column also gets a random method."""
    rng = np.random.default_rng(1000 + seed)
    n_ref = int(rng.choice([int(rng.integers(60, 1001)), int(rng.integers(1001, 4000))]))
    n_cur = int(rng.integers(60, 3000))
    ref_columns, cur_columns, methods = {}, {}, {}
    for i in range(int(rng.integers(3, 9))):
        ref_columns[f"c{i}"], cur_columns[f"c{i}"] = _random_column(rng, n_ref, n_cur)
        if seed >= 10:
            is_float = ref_columns[f"c{i}"].dtype.kind == "f" and np.unique(ref_columns[f"c{i}"]).size > 10
            methods[f"c{i}"] = str(rng.choice(FLOAT_METHODS if is_float else ANY_KIND_METHODS))
    ref, cur = pd.DataFrame(ref_columns), pd.DataFrame(cur_columns)
    assert assert_agreement(evidently_drift, ref, cur, methods) == len(ref_columns)
