from __future__ import annotations

import json

import numpy as np

from reoptimize.cards.card_text import card_markdown
from reoptimize.cards.model_card import build_model_card
from reoptimize.cards.surrogate import fit_surrogate


def test_every_first_version_has_a_model_card(champion_registry):
    registry = champion_registry
    manifest = registry.verify("digits", "1")
    assert {"model_card.md", "model_card.json"} <= set(manifest.files)
    card = json.loads(registry.read_bytes("digits", "1", "model_card.json"))
    assert card["model"] == "digits" and card["version"] == "1" and card["schema"] == 1
    assert card["metrics"]["holdout_accuracy"] == manifest.metrics["holdout_accuracy"]
    assert card["files"]["model.onnx"] == manifest.files["model.onnx"]
    assert card["surrogate"]["rules"] and 0 < card["surrogate"]["fidelity"] <= 1
    text = registry.read_bytes("digits", "1", "model_card.md").decode()
    assert text.startswith("# digits v1")
    assert "## What the model does" in text and "agrees with the model on" in text


def test_build_model_card_reads_a_stored_version(champion_registry):
    card = build_model_card(champion_registry, "digits", "1")
    stored = json.loads(champion_registry.read_bytes("digits", "1", "model_card.json"))
    assert card.to_json()["surrogate"] == stored["surrogate"]
    assert "model_card.md" not in card.files
    assert card_markdown(card).count("\n1. if ") == 1


def test_a_surrogate_of_a_rule_based_model_recovers_the_rule():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    predictions = np.where(x[:, 1] > 0.25, "high", "low")
    s = fit_surrogate(x, predictions, ["a", "b", "c"], "classification", max_depth=2)
    assert s.fidelity > 0.97 and s.features_used[0] == "b"
    assert any(
        rule.startswith("if b > 0.2") and rule.split(" then ")[1].startswith("high") for rule in s.rules
    )


def test_regression_surrogate_reports_r2_and_tiny_data_gets_none():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(400, 2))
    s = fit_surrogate(x, 3 * x[:, 0], ["u", "v"], "regression")
    assert s.fidelity_metric == "r2" and s.fidelity > 0.8
    assert fit_surrogate(x[:10], x[:10, 0], ["u", "v"], "regression") is None
