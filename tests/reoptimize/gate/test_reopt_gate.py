from __future__ import annotations

import json
from dataclasses import replace

import pytest

from reoptimize.gate.candidate_metrics import CandidateMetrics
from reoptimize.gate.decision import Policy, PolicyError, check_constraint, decide

CHAMPION = CandidateMetrics(
    holdout_accuracy=0.96, recent_accuracy=0.62, latency_p95_seconds=0.010, model_size_bytes=40_000, f1=0.95
)
GOOD = CandidateMetrics(
    holdout_accuracy=0.95, recent_accuracy=0.91, latency_p95_seconds=0.011, model_size_bytes=40_000, f1=0.94
)
DEFAULT = Policy.from_dict({})


@pytest.mark.parametrize(
    ("candidate", "policy", "passed", "reason"),
    [
        (GOOD, DEFAULT, True, None),
        (
            replace(GOOD, holdout_accuracy=0.93),
            DEFAULT,
            False,
            "holdout_accuracy >= champion.holdout_accuracy - 0.02",
        ),
        (replace(GOOD, latency_p95_seconds=0.05), DEFAULT, False, "latency_p95_seconds <= 2.0"),
        (replace(GOOD, recent_accuracy=0.625), DEFAULT, False, "gain +0.005 is below the minimum 0.01"),
        (
            replace(GOOD, recent_accuracy=None),
            DEFAULT,
            False,
            "recent_accuracy not measured for the candidate",
        ),
        (replace(GOOD, holdout_accuracy=None), DEFAULT, False, "not measured: holdout_accuracy"),
        (GOOD, Policy.from_dict({"min_improvement": 0.5}), False, "below the minimum 0.5"),
        (GOOD, Policy.from_dict({"min_improvement": 0.25}), True, None),
        (
            replace(GOOD, model_size_bytes=10_000),
            Policy.from_dict({"objective": "-model_size_bytes", "min_improvement": 1000}),
            True,
            None,
        ),
        (GOOD, Policy.from_dict({"objective": "-model_size_bytes", "min_improvement": 1}), False, "gain +0"),
        (GOOD, Policy.from_dict({"constraints": ["f1 >= champion.f1"]}), False, "f1 >= champion.f1"),
        (
            GOOD,
            Policy.from_dict({"constraints": ["f1 >= champion.f1 - 0.05 and holdout_rows >= 0"]}),
            True,
            None,
        ),
    ],
)
def test_decide(candidate, policy, passed, reason):
    verdict = decide(candidate, CHAMPION, policy)
    assert verdict.passed is passed
    if reason is None:
        assert verdict.reasons == ()
    else:
        assert any(reason in r for r in verdict.reasons), verdict.reasons


def test_a_none_champion_metric_fails_closed():
    verdict = decide(GOOD, replace(CHAMPION, latency_p95_seconds=None), DEFAULT)
    assert not verdict.passed
    failed = [c for c in verdict.constraints if not c.ok]
    assert [c.detail for c in failed] == ["not measured: champion.latency_p95_seconds"]


def test_big_objective_gain_never_buys_a_failed_constraint():
    terrible_holdout = replace(GOOD, holdout_accuracy=0.10, recent_accuracy=1.0)
    verdict = decide(terrible_holdout, CHAMPION, DEFAULT)
    assert not verdict.passed and verdict.objective_gain == pytest.approx(0.38)


def test_manual_approval_is_recorded():
    verdict = decide(
        GOOD, CHAMPION, Policy.from_dict({"approval": "manual"}), candidate_label="v3", champion_label="v2"
    )
    assert verdict.passed and not verdict.auto_promote and verdict.approval == "manual"
    assert "once approved" in verdict.text() and "waiting for a person" in verdict.text()
    assert decide(GOOD, CHAMPION, DEFAULT).auto_promote


def test_text_is_a_readable_decision_record():
    trigger = {"rule": "feature-drift", "measurements": {"drift_share": 0.62, "rows": 800}}
    verdict = decide(GOOD, CHAMPION, DEFAULT, trigger, candidate_label="v3", champion_label="v2")
    text = verdict.text()
    assert text.splitlines()[0] == "promote v3 over v2: recent_accuracy 0.91 vs 0.62 (+0.29 ≥ 0.01)"
    assert "✓ holdout_accuracy >= champion.holdout_accuracy - 0.02: 0.95 >= 0.96 - 0.02" in text
    assert "trigger: rule feature-drift (drift_share=0.62, rows=800)" in text
    rejected = decide(
        replace(GOOD, holdout_accuracy=0.5), CHAMPION, DEFAULT, candidate_label="v3", champion_label="v2"
    )
    assert rejected.text().startswith("keep v2, reject v3:")
    assert "✗ holdout_accuracy >= champion.holdout_accuracy - 0.02: 0.5 >= 0.96 - 0.02" in rejected.text()
    json.dumps(verdict.to_json())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"constraints": ["accuracy >= champion.accuracy"]}, "unknown metric 'accuracy'"),
        ({"constraints": ["f1 >= other.f1"]}, "is not champion.<metric>"),
        ({"constraints": ["f1 >="]}, "not a valid expression"),
        ({"constraints": ["f1 + 1"]}, "must be a comparison"),
        ({"constraints": ["__import__('os').system('true') == 0"]}, "is not champion.<metric>"),
        ({"constraints": ["open('x') == 0"]}, "function 'open' is not allowed"),
        ({"constraints": ["champion.f1.__class__ == 1"]}, "is not champion.<metric>"),
        ({"objective": "speed"}, "objective: unknown metric 'speed'"),
        ({"approval": "sometimes"}, "approval: got 'sometimes'"),
        ({"min_improvement": "a lot"}, "min_improvement: got 'a lot'"),
        ({"threshold": 1}, "unknown field"),
    ],
)
def test_policy_errors_name_the_field(data, message):
    with pytest.raises(PolicyError, match=message):
        Policy.from_dict(data)


def test_evaluation_errors_fail_the_constraint_instead_of_raising():
    zero = replace(CHAMPION, latency_p95_seconds=0.0)
    result = check_constraint("latency_p95_seconds / champion.latency_p95_seconds <= 2", GOOD, zero)
    assert not result.ok and "could not be evaluated" in result.detail


def test_constraint_functions_are_limited_to_abs_min_max():
    ok = check_constraint("abs(holdout_accuracy - champion.holdout_accuracy) <= 0.02", GOOD, CHAMPION)
    assert ok.ok and ok.values == {"holdout_accuracy": 0.95, "champion.holdout_accuracy": 0.96}


def test_an_accuracy_gain_within_the_noise_of_its_rows_is_refused():
    from reoptimize.gate.decision import noise_floor

    champion = replace(CHAMPION, recent_accuracy=0.52, recent_rows=92)
    lucky = replace(GOOD, recent_accuracy=0.553, recent_rows=92)  # three rows more, out of 92
    verdict = decide(lucky, champion, DEFAULT)
    floor = noise_floor(DEFAULT, lucky, champion)
    assert floor == pytest.approx(1.645 * ((0.553 * 0.447 + 0.52 * 0.48) / 92) ** 0.5)
    assert not verdict.passed
    assert verdict.reasons == (
        f"objective recent_accuracy gain +0.033 could be chance on 92 rows "
        f"(at least {floor:.3g} is needed at 95% confidence)",
    )
    assert "could be chance on 92 rows" in verdict.text()
    assert decide(replace(lucky, recent_accuracy=0.9), champion, DEFAULT).passed
    # the same gain on many rows is real
    assert decide(replace(lucky, recent_rows=5000), replace(champion, recent_rows=5000), DEFAULT).passed
    # a policy that asks for no gain is not held to one
    lenient = Policy.from_dict({"min_improvement": -1.0})
    assert noise_floor(lenient, lucky, champion) is None
    assert decide(replace(lucky, recent_accuracy=0.3), champion, lenient).passed
