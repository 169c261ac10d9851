"""The gate verdict's text gives the trigger's moments in RFC 3339 and relative, never as raw floats;
its JSON keeps the trigger's Unix seconds as they were."""

from __future__ import annotations

import re

import pytest

from reoptimize.gate.candidate_metrics import CandidateMetrics
from reoptimize.gate.decision import Policy, decide
from reoptimize.gate.verdict import GateVerdict, trigger_line

T = 1796688168.4649158  # 2026-12-08T00:02:48Z
RAW_TIMESTAMP = re.compile(r"(?<![\w.])\d{10}(?:\.\d+)?(?![\w.])")

CHAMPION = CandidateMetrics(holdout_accuracy=0.96, recent_accuracy=0.62)
GOOD = CandidateMetrics(holdout_accuracy=0.95, recent_accuracy=0.91)


def test_the_trigger_line_reads_like_a_sentence() -> None:
    line = trigger_line({"rule": "feature-drift", "at": T, "condition_since": T - 9})
    assert line == "trigger: rule feature-drift at 2026-12-08T00:02:48Z, 9 s after the condition became true"


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        (
            {"rule": "slow", "at": T, "condition_since": T - 7500, "source": "rule"},
            "trigger: rule slow source=rule at 2026-12-08T00:02:48Z, 2 h 5 min after the condition became true",
        ),
        ({"rule": "manual", "at": T}, "trigger: rule manual at 2026-12-08T00:02:48Z"),
        # a since later than the trigger (two clocks apart) shows both moments, not a negative span
        (
            {"rule": "r", "at": T, "condition_since": T + 30},
            "trigger: rule r at 2026-12-08T00:02:48Z, condition true since 2026-12-08T00:03:18Z",
        ),
        ({"rule": "r", "condition_since": T}, "trigger: rule r condition true since 2026-12-08T00:02:48Z"),
        ({"rule": "r", "at": "yesterday"}, "trigger: rule r at unknown"),
        ({"rule": "r", "at": None, "condition_since": None}, "trigger: rule r"),
    ],
)
def test_trigger_times_in_every_shape(trigger, expected) -> None:  # noqa: ANN001
    assert trigger_line(trigger) == expected


def test_the_verdict_text_has_no_raw_timestamp_and_its_json_keeps_the_seconds() -> None:
    trigger = {
        "rule": "feature-drift",
        "source": "rule",
        "inputs": {"drift_share": 0.62},
        "at": T,
        "condition_since": T - 9,
    }
    verdict = decide(GOOD, CHAMPION, Policy.from_dict({}), trigger, candidate_label="v2", champion_label="v1")
    text = verdict.text()
    assert text.splitlines()[-1] == (
        "  trigger: rule feature-drift source=rule at 2026-12-08T00:02:48Z, "
        "9 s after the condition became true"
    )
    assert not RAW_TIMESTAMP.search(text), text
    data = verdict.to_json()
    assert data["trigger"]["at"] == T and data["trigger"]["condition_since"] == T - 9
    assert data["text"] == text
    assert GateVerdict.from_json(data).text() == text
