"""The tune step (Optuna, bounded, pruning weak trials), the export step, and teacher labels in retrain."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from reoptimize.steps.export_step import ExportStep
from reoptimize.steps.retrain_step import RetrainStep
from reoptimize.steps.tune_step import TuneStep
from reoptimize.train.export import ExportError
from tests.support.reopt_steps import step_input

DIGITS = tuple(f"px{i}" for i in range(64))


def test_tuning_runs_bounded_trials_prunes_weak_ones_and_keeps_the_best(champion_registry, recipe):
    events = []
    inp = step_input(
        champion_registry, "digits", recipe, DIGITS,
        {"tune": {"trials": 8, "time_budget": 120, "startup_trials": 2, "warmup_epochs": 1, "widths": [16, 32, 64]}},
        progress=events.append,
    )  # fmt: skip
    inp = replace(inp, training=replace(inp.training, max_epochs=8, patience=3))
    out = TuneStep().run(inp)
    info = out.info
    assert info["trials"] == 8 and info["completed"] + info["pruned"] == 8
    history = info["history"]
    best = min((h for h in history if h["state"] == "complete"), key=lambda h: h["value"])
    assert info["best_trial"] == best["trial"] and info["best_val_loss"] == pytest.approx(best["value"])
    assert all(w in (16, 32, 64) for w in info["recipe_params"]["hidden"])
    assert out.candidate.stats["params"] == info["recipe_params"]
    trials = {e["trial"] for e in events if e.get("stage") == "tune"}
    assert trials == set(range(1, 9)) and all(e["of"] == 8 for e in events if e.get("stage") == "tune")
    epochs_run = [sum(1 for e in events if e.get("trial") == h["trial"] + 1) for h in history]
    pruned_epochs = [n for n, h in zip(epochs_run, history, strict=True) if h["state"] == "pruned"]
    assert all(n < 8 for n in pruned_epochs), "a pruned trial stops before its last epoch"


def test_tuning_stops_at_its_time_budget(champion_registry, recipe):
    inp = step_input(
        champion_registry, "digits", recipe, DIGITS, {"tune": {"trials": 50, "time_budget": 1.0}}
    )
    out = TuneStep().run(replace(inp, training=replace(inp.training, max_epochs=5)))
    assert 1 <= out.info["trials"] < 50


def test_export_step_records_the_tolerance_and_fails_outside_it(champion_registry, recipe):
    inp = step_input(champion_registry, "digits", recipe, DIGITS, {"export": {"tolerance": 1e-3}})
    out = ExportStep().run(inp)
    export = out.info["export"]
    assert export["tolerance"] == 1e-3 and 0 <= export["max_abs_diff"] <= 1e-3
    assert out.info["rows_checked"] > 0 and out.candidate.trained is not None
    if export["max_abs_diff"] > 0:
        with pytest.raises(ExportError, match="exceeds tolerance 0"):
            ExportStep().run(replace(inp, params={"export": {"tolerance": 0.0}}))


def test_retrain_with_teacher_labels_adds_confident_unlabelled_rows(champion_registry, recipe, digits):
    unlabelled = digits.iloc[1000:1300][list(DIGITS)].assign(_source="unlabelled")
    labelled = digits.iloc[1300:1350][list(DIGITS)].assign(_source="labelled")
    import pandas as pd

    traffic = pd.concat([unlabelled, labelled], ignore_index=True)
    inp = step_input(champion_registry, "digits", recipe, DIGITS, {"teacher_confidence": 0.9}, traffic)
    inp = replace(inp, training=replace(inp.training, max_epochs=3))
    out = RetrainStep().run(inp)
    teacher = out.info["teacher_labels"]
    assert teacher["offered"] == 300, "rows that already have labels are not pseudo-labelled"
    assert 0 < teacher["kept"] <= 300
    assert out.info["train_rows"] == len(inp.train) + teacher["kept"]
    assert sum(teacher["classes"].values()) == teacher["kept"]
    plain = RetrainStep().run(replace(inp, params={}))
    assert plain.info["teacher_labels"] is None and plain.info["train_rows"] == len(inp.train)


def test_pseudo_labels_follow_the_threshold(champion_registry, digits):
    from reoptimize.steps.pseudo_label import teacher_labels
    from tests.support.reopt_steps import champion_of

    rows = digits.iloc[1000:1400]
    low, info_low = teacher_labels(champion_of(champion_registry, "digits"), rows, DIGITS, "label", 0.5)
    high, info_high = teacher_labels(champion_of(champion_registry, "digits"), rows, DIGITS, "label", 0.999)
    assert info_low["kept"] > info_high["kept"] > 0 and len(low) == info_low["kept"]
    truth = rows.loc[high.index, "label"].to_numpy()
    assert (high["label"].to_numpy() == truth).mean() > 0.95, "confident pseudo-labels are mostly right"


def test_tune_export_and_retrain_on_a_tabular_model(cancer_registry, cancer):
    from reoptimize.onnx.onnx_model import OnnxModel
    from tests.support.reopt_steps import CANCER_FEATURES, CANCER_RECIPE

    inp = step_input(cancer_registry, "cancer", CANCER_RECIPE, CANCER_FEATURES, {"tune": {"trials": 3}})
    inp = replace(inp, training=replace(inp.training, max_epochs=6))
    holdout = cancer.iloc[450:]
    x, y = holdout[list(CANCER_FEATURES)].to_numpy("float32"), holdout["label"].to_numpy()
    for step in (TuneStep(), ExportStep(), RetrainStep()):
        out = step.run(inp)
        model = OnnxModel(out.candidate.onnx_bytes, classes=out.candidate.classes)
        accuracy = (pd.Series(model.run(x).labels).to_numpy() == y).mean()
        assert out.candidate.classes == (0, 1) and accuracy > 0.85, (step.name, accuracy)
        assert out.info["export"]["max_abs_diff"] <= out.info["export"]["tolerance"]
