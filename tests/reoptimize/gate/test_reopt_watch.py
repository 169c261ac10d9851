from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reoptimize.gate.live_regression import WatchPolicy, WatchPolicyError, compare_live

BEFORE = {"accuracy": 0.93, "latency_p95_seconds": 0.010, "error_ratio": 0.001}


@pytest.mark.parametrize(
    ("after", "regressed", "fragment"),
    [
        ({"accuracy": 0.92, "latency_p95_seconds": 0.011, "error_ratio": 0.002}, False, "no regression"),
        ({"accuracy": 0.90, "latency_p95_seconds": 0.010, "error_ratio": 0.001}, True, "accuracy 0.9 < 0.91"),
        (
            {"accuracy": 0.93, "latency_p95_seconds": 0.030, "error_ratio": 0.001},
            True,
            "latency_p95_seconds 0.03 > 0.017",
        ),
        (
            {"accuracy": 0.93, "latency_p95_seconds": 0.010, "error_ratio": 0.05},
            True,
            "error_ratio 0.05 > 0.011",
        ),
        ({"latency_p95_seconds": 0.010}, False, "accuracy not measured before and after"),
    ],
)
def test_each_watched_metric_can_regress(after, regressed, fragment):
    verdict = compare_live(BEFORE, after, WatchPolicy())
    assert verdict.regressed is regressed
    assert fragment in verdict.text()
    json.dumps(verdict.to_json())


def test_estimated_accuracy_stands_in_when_labels_are_missing():
    verdict = compare_live({"estimated_accuracy": 0.9}, {"estimated_accuracy": 0.85, "accuracy": 0.99})
    assert verdict.regressed
    assert verdict.checks[0].metric == "estimated_accuracy"


def test_nothing_measured_is_unknown_not_a_regression():
    verdict = compare_live({}, {"accuracy": None, "latency_p95_seconds": float("nan")})
    assert not verdict.regressed and verdict.unknown
    assert verdict.text().startswith("unknown")


def test_policy_reads_and_checks_its_fields():
    assert WatchPolicy.from_dict({"max_accuracy_drop": 0.05}).max_accuracy_drop == 0.05
    with pytest.raises(WatchPolicyError, match="watch.max_latency_ratio: got -1"):
        WatchPolicy.from_dict({"max_latency_ratio": -1})
    with pytest.raises(WatchPolicyError, match="unknown field"):
        WatchPolicy.from_dict({"latency": 1})


finite = st.floats(min_value=0, max_value=1e3, allow_nan=False)


@given(before=finite, after=finite, drop=st.floats(min_value=0, max_value=1))
def test_accuracy_regresses_exactly_when_the_drop_exceeds_the_allowance(before, after, drop):
    verdict = compare_live({"accuracy": before}, {"accuracy": after}, WatchPolicy(max_accuracy_drop=drop))
    assert verdict.regressed is (after < before - drop)


@given(before=finite, after=finite)
def test_latency_regresses_exactly_above_ratio_plus_slack(before, after):
    policy = WatchPolicy()
    verdict = compare_live({"latency_p95_seconds": before}, {"latency_p95_seconds": after}, policy)
    limit = before * policy.max_latency_ratio + policy.latency_slack_seconds
    assert verdict.regressed is (after > limit)
    assert not math.isnan(verdict.checks[1].limit)
