from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reoptimize.gate.evaluation import evaluate, macro_f1
from reoptimize.train.export import export_onnx
from reoptimize.train.settings import TrainingSettings
from reoptimize.train.trainer import train_model

FEATURES = tuple(f"f{i}" for i in range(30))


def onnx_for(x, y, epochs, hidden):
    trained = train_model(
        "reoptimize.recipes.mlp:mlp",
        {"hidden": hidden},
        x,
        y,
        task="classification",
        training=TrainingSettings(max_epochs=epochs, patience=epochs, learning_rate=0.003),
    )
    return export_onnx(trained, x.shape[1], sample=x).onnx_bytes


@pytest.fixture(scope="module")
def cancer():
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    df = pd.DataFrame(data.data.astype(np.float32), columns=list(FEATURES))
    df["label"] = data.target
    train, holdout, recent = df.iloc[:350], df.iloc[350:470], df.iloc[470:]
    x, y = train[list(FEATURES)].to_numpy(), train["label"].to_numpy()
    good = onnx_for(x, y, 30, [32])
    shuffled = np.random.default_rng(0).permutation(y)
    bad = onnx_for(x, shuffled, 5, [256, 256])
    return train, holdout, recent, good, bad


def test_two_models_measured_in_one_run(cancer):
    train, holdout, recent, good, bad = cancer
    out = evaluate(
        {"good": good, "bad": bad},
        holdout,
        recent,
        train,
        task="classification",
        features=FEATURES,
        label="label",
        classes=(0, 1),
        cost={"cpu_price_per_hour": 3.6},
        latency_runs=100,
    )
    g, b = out["good"], out["bad"]
    assert g.holdout_accuracy > 0.9 and b.holdout_accuracy < g.holdout_accuracy
    assert g.recent_accuracy > 0.85 and 0 <= b.recent_accuracy <= 1
    assert g.train_holdout_gap == pytest.approx(g.train_accuracy - g.holdout_accuracy)
    assert 0 < g.f1 <= 1 and g.mae is None and g.rmse is None
    for m, blob in ((g, good), (b, bad)):
        assert 0 < m.latency_p50_seconds <= m.latency_p95_seconds < 0.1
        assert m.batch_throughput_rows_per_second > 0
        assert m.model_size_bytes == len(blob)
        assert m.cost_per_1k_predictions == pytest.approx(m.cpu_seconds_per_1k_predictions * 3.6 / 3600)
        assert (m.holdout_rows, m.recent_rows, m.train_rows) == (120, len(recent), 350)
    assert b.model_size_bytes > g.model_size_bytes


def test_missing_recent_labels_give_none_not_zero(cancer):
    train, holdout, recent, good, _ = cancer
    unlabelled = recent.assign(label=np.nan)
    out = evaluate(
        {"m": good},
        holdout,
        unlabelled,
        None,
        task="classification",
        features=FEATURES,
        label="label",
        latency_runs=20,
    )
    assert out["m"].recent_accuracy is None and out["m"].recent_rows == 0
    assert out["m"].train_accuracy is None and out["m"].train_holdout_gap is None
    assert out["m"].cost_per_1k_predictions == 0.0


def test_per_model_training_rows_and_classes(cancer):
    train, holdout, _, good, bad = cancer
    out = evaluate(
        {"a": good, "b": bad},
        holdout,
        None,
        {"a": train, "b": train.iloc[:10]},
        task="classification",
        features=FEATURES,
        label="label",
        classes={"a": (0, 1), "b": ("no", "yes")},
        latency_runs=20,
    )
    assert out["a"].train_rows == 350 and out["b"].train_rows == 10
    assert out["b"].holdout_accuracy == 0.0, "labels 'no'/'yes' never equal 0/1"


def test_regression_metrics():
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    cols = tuple(f"d{i}" for i in range(10))
    df = pd.DataFrame(data.data.astype(np.float32), columns=list(cols))
    df["y"] = data.target.astype(np.float32)
    train = df.iloc[:350]
    trained = train_model(
        "reoptimize.recipes.mlp:mlp",
        {"hidden": [16]},
        train[list(cols)].to_numpy(),
        train["y"].to_numpy(),
        task="regression",
        training=TrainingSettings(max_epochs=40, patience=10, learning_rate=0.01),
    )
    blob = export_onnx(trained, 10).onnx_bytes
    m = evaluate(
        {"r": blob},
        df.iloc[350:],
        df.iloc[350:],
        train,
        task="regression",
        features=cols,
        label="y",
        latency_runs=20,
    )["r"]
    assert m.holdout_accuracy is None and m.f1 is None
    assert 0 < m.mae <= m.rmse < float(df["y"].std())
    assert m.recent_rmse == pytest.approx(m.rmse)
    from reoptimize.onnx.onnx_model import OnnxModel

    fitted = np.asarray(OnnxModel(blob, task="regression").run(train[list(cols)].to_numpy()).labels)
    train_rmse = float(np.sqrt(np.mean((fitted - train["y"].to_numpy()) ** 2)))
    assert m.train_holdout_gap == pytest.approx(m.rmse - train_rmse, rel=1e-4)


def test_macro_f1_matches_scikit_learn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, size=300)
    pred = np.where(rng.random(300) < 0.7, truth, rng.integers(0, 5, size=300))
    assert macro_f1(truth.tolist(), pred.tolist()) == pytest.approx(f1_score(truth, pred, average="macro"))


def test_timing_is_interleaved_between_models(cancer):
    """Each round times every model once: the timer is read twice per model per round.

    Warm-up: 1 single-row round per model, plus one batch round per model."""
    train, holdout, _, good, bad = cancer
    reads = []

    def timer() -> float:
        reads.append(1)
        return float(len(reads))

    evaluate(
        {"a": good, "b": bad},
        holdout,
        None,
        None,
        task="classification",
        features=FEATURES,
        label="label",
        latency_runs=10,
        warmup_runs=1,
        batch_runs=2,
        timer=timer,
    )
    assert len(reads) == 2 * 2 * (2 * 1 + 2 * 1 + 10 + 2)
