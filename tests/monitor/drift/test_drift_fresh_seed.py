"""Agreement with Evidently on data no other test holds: a fresh seed on every run.

The seed comes from the operating system (or ``MODELHEALTHD_DRIFT_SEED`` to replay a failure)
and is printed in every assertion message. Each frame mixes distributions and column types the
fixed suite does not use: log-normal and mixture columns, wide integer ranges with heavy ties,
many-valued strings, sparse booleans and missing values, in windows small and large.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from monitor.drift.detect import detect_drift
from monitor.drift.reference_stats import build_reference_stats

SEED = int(os.environ.get("MODELHEALTHD_DRIFT_SEED") or int.from_bytes(os.urandom(4), "little"))


def _column(rng: np.random.Generator, n_ref: int, n_cur: int) -> tuple[np.ndarray, np.ndarray]:
    shift = float(rng.choice([0.0, 0.0, rng.uniform(0.01, 0.8)]))
    kind = rng.choice(["lognormal", "mixture", "ties", "strings", "sparse_bool", "with_missing", "uniform"])
    if kind == "lognormal":
        s = rng.uniform(0.2, 1.5)
        return rng.lognormal(0, s, n_ref), rng.lognormal(shift, s, n_cur)
    if kind == "mixture":

        def mix(n: int, w: float) -> np.ndarray:
            return np.where(rng.random(n) < w, rng.normal(-2, 0.5, n), rng.normal(3, 1.0, n))

        return mix(n_ref, 0.3), mix(n_cur, min(0.3 + shift / 2, 0.95))
    if kind == "ties":
        top = int(rng.integers(11, 60))
        return rng.integers(0, top, n_ref) // 2 * 2, (rng.integers(0, top, n_cur) + int(shift * 10)) // 2 * 2
    if kind == "strings":
        values = np.array([f"v{i}" for i in range(int(rng.integers(3, 12)))], dtype=object)
        p = rng.dirichlet(np.ones(values.size) * 2)
        q = p + shift * rng.dirichlet(np.ones(values.size))
        return rng.choice(values, n_ref, p=p), rng.choice(values, n_cur, p=q / q.sum())
    if kind == "sparse_bool":
        p = rng.uniform(0.02, 0.1)
        return rng.random(n_ref) < p, rng.random(n_cur) < p + shift / 5
    if kind == "with_missing":
        ref, cur = rng.normal(size=n_ref), rng.normal(shift, size=n_cur)
        ref[rng.random(n_ref) < 0.1] = np.nan
        cur[rng.random(n_cur) < 0.2] = np.nan
        return ref, cur
    return rng.uniform(0, 1, n_ref), rng.uniform(shift / 2, 1 + shift / 2, n_cur)


@pytest.mark.parametrize("frame", range(6))
def test_fresh_random_frames_agree_with_evidently(evidently_drift, frame: int) -> None:
    rng = np.random.default_rng([SEED, frame])
    n_ref = int(rng.choice([int(rng.integers(40, 1001)), int(rng.integers(1001, 6000))]))
    n_cur = int(rng.integers(40, 4000))
    ref_cols, cur_cols = {}, {}
    for i in range(int(rng.integers(2, 10))):
        ref_cols[f"c{i}"], cur_cols[f"c{i}"] = _column(rng, n_ref, n_cur)
    ref, cur = pd.DataFrame(ref_cols), pd.DataFrame(cur_cols)
    theirs = evidently_drift(ref, cur)
    ours = detect_drift(
        build_reference_stats({c: ref[c].to_numpy() for c in ref}),
        {c: cur[c].to_numpy() for c in cur},
        prediction_column=None,
    )
    where = f"MODELHEALTHD_DRIFT_SEED={SEED} frame {frame} ({n_ref} reference rows, {n_cur} current)"
    assert {f.column for f in ours.features} == set(theirs.columns), where
    for feature in ours.features:
        expected = theirs.columns[feature.column]
        assert feature.error is None, (where, feature)
        assert feature.method == expected.method, (where, feature, expected)
        assert feature.drifted == expected.drifted, (where, feature, expected)
        if feature.score is None:
            assert np.isnan(expected.score), (where, feature, expected)
        else:
            assert feature.score == pytest.approx(expected.score, rel=1e-6, abs=1e-9), (
                where,
                feature,
                expected,
            )
    assert ours.drifted_features == theirs.drifted_count, where
