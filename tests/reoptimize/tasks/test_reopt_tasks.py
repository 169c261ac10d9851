"""Each task on its own: labels, loss, output head, quality metrics, selection and drift impact."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from reoptimize.tasks.task import Prediction, Task, TaskError, task_named, task_names

CLS = task_named("classification")
REG = task_named("regression")


def test_the_table_names_every_task_module_and_refuses_others():
    assert task_names() == ("classification", "regression")
    assert all(isinstance(task_named(n), Task) and task_named(n).name == n for n in task_names())
    assert task_named(REG) is REG, "a task object passes through"
    for bad in ("ranking", "task", "Classification", "../x", 3):
        with pytest.raises(
            TaskError, match=r"recipe\.task: got .*; expected 'classification' or 'regression'"
        ):
            task_named(bad, "recipe.task")


@pytest.mark.parametrize(
    ("task", "loss", "output", "primary", "axis", "basis"),
    [
        (CLS, "CrossEntropyLoss", "probabilities", "accuracy", ("holdout_accuracy", True), "accuracy_drop"),
        (REG, "MSELoss", "value", "rmse", ("rmse", False), "rmse_increase"),
    ],
)
def test_each_task_declares_its_loss_head_and_metrics(task, loss, output, primary, axis, basis):
    assert type(task.loss()).__name__ == loss
    assert task.output_name == output and task.primary_metric == primary
    assert task.selection_axis() == axis and task.impact_basis == basis


def test_classification_labels_targets_and_head():
    import torch

    assert CLS.has_classes and CLS.n_outputs(("a", "b", "c")) == 3
    assert CLS.encode(np.array([2, 0, 2]), (0, 1, 2)).tolist() == [2, 0, 2]
    with pytest.raises(KeyError):
        CLS.encode(["x"], ("a", "b"))
    assert CLS.target_scaling(np.array([5.0, 7.0])) == (0.0, 1.0)
    assert CLS.target_tensor(np.array([1, 0]), 0.0, 1.0).dtype == torch.int64
    probabilities = CLS.serving_head(torch.tensor([[0.0, math.log(3.0)]]), 0.0, 1.0)
    assert probabilities[0].tolist() == pytest.approx([0.25, 0.75])
    assert CLS.label_problem(pd.Series([1, 1, 1]), "label") == (
        "label 'label' has a single class (1); a classifier needs at least two"
    )
    assert CLS.label_problem(pd.Series([1, 0]), "label") is None


def test_regression_labels_targets_and_head():
    import torch

    assert not REG.has_classes and REG.n_outputs(()) == 1
    targets = REG.encode([1.0, 3.0], ())
    assert targets.dtype == np.float32 and REG.target_scaling(targets) == (2.0, 1.0)
    assert REG.target_scaling(np.array([4.0, 4.0])) == (4.0, 1.0), "a constant target keeps std 1"
    tensor = REG.target_tensor(targets, 2.0, 1.0)
    assert tensor.shape == (2, 1) and tensor.flatten().tolist() == [-1.0, 1.0]
    assert REG.serving_head(torch.tensor([[0.5], [-1.0]]), 10.0, 2.0).tolist() == [11.0, 8.0]
    assert "needs numeric labels" in REG.label_problem(pd.Series(["a", "b"]), "y")
    assert "1 inf value(s)" in REG.label_problem(pd.Series([1.0, math.inf]), "y")
    assert REG.label_problem(pd.Series([1.0, 2.0]), "y") is None


def test_the_classification_head_reads_probabilities_labels_and_maps():
    proba = np.array([[0.9, 0.1], [0.2, 0.8]], dtype=np.float32)
    assert CLS.read_outputs([proba], 2, ["no", "yes"]) == Prediction(["no", "yes"], proba, ("no", "yes"))
    labels = CLS.read_outputs([np.array([3, 4], dtype=np.int64), proba], 2, [])
    assert labels.labels == [3, 4] and labels.proba is proba
    mapped = CLS.read_outputs([[{"b": 0.3, "a": 0.7}, {"b": 0.6, "a": 0.4}]], 2, [])
    assert mapped.labels == ["a", "b"] and mapped.classes == ("a", "b")
    with pytest.raises(TaskError, match=r"no probabilities \[N, C\] or labels \[N\]"):
        CLS.read_outputs([np.zeros((2, 1), dtype=np.float32)], 2, [])


def test_the_regression_head_reads_a_value_per_row():
    got = REG.read_outputs([np.array([[1.5], [2.5]], dtype=np.float32)], 2, [])
    assert got == Prediction([1.5, 2.5], None)
    with pytest.raises(TaskError, match=r"no float output of shape \[N\] or \[N, 1\]"):
        REG.read_outputs([np.zeros((2, 3), dtype=np.float32)], 2, [])


def test_classification_quality_budget_gap_and_guard():
    from sklearn.metrics import f1_score

    truth, predicted = [0, 0, 1, 1, 2], [0, 1, 1, 1, 0]
    quality = CLS.quality(predicted, truth)
    assert quality["accuracy"] == pytest.approx(0.6)
    assert quality["f1"] == pytest.approx(f1_score(truth, predicted, average="macro"))
    assert CLS.score(predicted, truth) == pytest.approx(0.6)
    assert CLS.quality_loss(0.9, 0.85) == pytest.approx(0.05) and CLS.quality_loss(0.8, 0.9) < 0
    assert CLS.fit_gap(0.99, 0.9) == pytest.approx(0.09)
    assert CLS.quality_guard(0.005) == "holdout_accuracy >= champion.holdout_accuracy - 0.005"


def test_regression_quality_budget_gap_and_guard():
    quality = REG.quality([1.0, 3.0], [2.0, 3.0])
    assert quality == {"mae": 0.5, "rmse": pytest.approx(0.5**0.5)}
    assert REG.score([1.0, 3.0], [2.0, 3.0]) == pytest.approx(0.5**0.5)
    assert REG.quality_loss(2.0, 2.2) == pytest.approx(0.1), "relative RMSE increase"
    assert REG.quality_loss(0.0, 0.3) == pytest.approx(0.3), "from a perfect fit, the absolute increase"
    assert REG.fit_gap(1.0, 1.5) == pytest.approx(0.5), "holdout error above training error"
    assert REG.quality_guard(0.01) == "rmse <= champion.rmse * (1 + 0.01)"


def test_drift_impact_per_task():
    key = str
    assert CLS.prediction_values([1, 2], key).tolist() == ["1", "2"]
    values, usable = CLS.truth_values([1, None, 2], key)
    assert values.tolist() == ["1", None, "2"] and usable.tolist() == [True, False, True]
    assert CLS.impact(0.9, 0.7) == pytest.approx(0.2) and CLS.impact(0.7, 0.9) == 0.0
    assert (
        CLS.changed_share(np.array(["a", "b"], dtype=object), np.array(["a", "a"], dtype=object), None) == 0.5
    )
    values, usable = REG.truth_values([1.0, None, math.inf], key)
    assert usable.tolist() == [True, False, False]
    assert REG.impact(2.0, 3.0) == pytest.approx(0.5) and REG.impact(2.0, 1.0) == 0.0
    assert REG.impact(0.0, 0.0) == 0.0 and REG.impact(0.0, 1.0) == math.inf
    base, moved = np.array([0.0, 0.0, 0.0]), np.array([0.05, 0.5, 0.0])
    assert REG.changed_share(base, moved, prediction_std=1.0) == pytest.approx(1 / 3)


def test_the_task_modules_load_no_heavy_library():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import reoptimize.tasks.classification, reoptimize.tasks.regression\n"
        "from reoptimize.tasks.task import task_named\n"
        "task_named('classification'); task_named('regression')\n"
        "print(','.join(m for m in ('torch', 'pandas', 'onnxruntime', 'sklearn') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
