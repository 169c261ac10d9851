"""The model card's Markdown gives every moment in RFC 3339 (trigger, data windows, gate verdict);
its JSON keeps the lineage's values as they are."""

from __future__ import annotations

import json
import re

import pandas as pd

from reoptimize.cards.card import ModelCard
from reoptimize.cards.card_text import card_markdown
from reoptimize.gate.candidate_metrics import CandidateMetrics
from reoptimize.gate.decision import Policy, decide
from reoptimize.train.tables import time_range

T = 1796688168.4649158  # 2026-12-08T00:02:48Z
RAW_TIMESTAMP = re.compile(r"(?<![\w.])\d{10}(?:\.\d+)?(?![\w.])")
TRIGGER = {"rule": "feature-drift", "inputs": {"drift_share": 0.62}, "at": T, "condition_since": T - 9}


def _card() -> ModelCard:
    recent = pd.DataFrame({"ts": [T - 3600.7, T - 60, T - 1], "a": [1.0, 2.0, 3.0]})
    verdict = decide(
        CandidateMetrics(holdout_accuracy=0.95, recent_accuracy=0.91),
        CandidateMetrics(holdout_accuracy=0.96, recent_accuracy=0.62),
        Policy.from_dict({}),
        TRIGGER,
        candidate_label="v2",
        champion_label="v1",
    ).to_json()
    # Text as an older version wrote it, with raw seconds: the card writes it again from the fields.
    verdict["text"] = verdict["text"].split("  trigger:")[0] + f"  trigger: rule feature-drift at={T}"
    lineage = {
        "job_id": "j1",
        "pipeline": "retrain",
        "trigger": TRIGGER,
        "gate": verdict,
        "data_windows": {"recent": time_range(recent), "holdout": {"rows": 40}},
    }
    return ModelCard("digits", "2", "1", "classification", ("a",), "label", (0, 1), lineage=lineage)


def test_the_card_markdown_writes_moments_in_rfc3339() -> None:
    card = _card()
    text = card_markdown(card)
    assert (
        "| Trigger | rule feature-drift (drift_share=0.62) at 2026-12-08T00:02:48Z, "
        "9 s after the condition became true |"
    ) in text
    assert "- recent: 3 rows, 2026-12-07T23:02:47Z to 2026-12-08T00:02:47Z" in text
    assert "- holdout: 40 rows" in text
    assert "trigger: rule feature-drift at 2026-12-08T00:02:48Z, 9 s after the condition became true" in text
    assert not RAW_TIMESTAMP.search(text), text


def test_the_card_json_keeps_the_lineage_values() -> None:
    card = _card()
    data = json.loads(json.dumps(card.to_json()))
    assert data["lineage"]["trigger"]["at"] == T
    assert data["lineage"]["data_windows"]["recent"]["start"].startswith("2026-12-07T23:02:47.")


def test_a_window_or_verdict_the_card_cannot_read_does_not_break_it() -> None:
    lineage = {
        "data_windows": {"w": {"rows": 1, "start": "not a time", "end": 12.5}},
        "gate": {"text": "kept by hand"},
    }
    text = card_markdown(ModelCard("m", "1", None, "regression", ("a",), "y", (), lineage=lineage))
    assert "- w: 1 rows, unknown to 1970-01-01T00:00:12Z" in text
    assert "```text\nkept by hand\n```" in text
