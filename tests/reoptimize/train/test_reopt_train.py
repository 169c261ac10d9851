from __future__ import annotations

import numpy as np
import pytest

from reoptimize.train.settings import SettingsError, TrainingSettings
from reoptimize.train.trainer import TrainingCancelled, split_validation, train_model

MLP = "reoptimize.recipes.mlp:mlp"


def tabular(n=400, seed=0):
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    return data.data[:n].astype(np.float32), data.target[:n]


def test_settings_from_dict_reads_and_checks_values():
    s = TrainingSettings.from_dict(
        {"max_epochs": 5, "augment": ["noise", {"kind": "shift", "strength": 0.1}]}
    )
    assert s.max_epochs == 5 and [a.kind for a in s.augment] == ["noise", "shift"]
    assert s.with_overrides({"max_epochs": 9, "unrelated": 1}).max_epochs == 9
    assert TrainingSettings.from_dict(s.to_json()) == s
    for bad, message in [
        ({"max_epochs": 0}, r"training\.max_epochs: got 0"),
        ({"learning_rate": 0}, r"training\.learning_rate: got 0; expected a value > 0"),
        ({"validation_fraction": 0.7}, r"validation_fraction: got 0\.7"),
        ({"clip_grad_norm": -1}, r"clip_grad_norm: got -1"),
        ({"batch_size": "64"}, r"batch_size: got '64'; expected an integer"),
        ({"epochs": 3}, r"unknown field\(s\) \['epochs'\]"),
    ]:
        with pytest.raises(SettingsError, match=message):
            TrainingSettings.from_dict(bad)


def test_training_learns_reports_progress_and_is_reproducible():
    x, y = tabular()
    events = []
    settings = TrainingSettings(max_epochs=8, patience=8, seed=3)
    first = train_model(
        MLP, {"hidden": [16]}, x, y, task="classification", training=settings, progress=events.append
    )
    second = train_model(MLP, {"hidden": [16]}, x, y, task="classification", training=settings)
    assert [e["epoch"] for e in events] == list(range(1, 9))
    assert {"loss", "val_loss", "val_accuracy", "grad_norm", "best_epoch"} <= set(events[0])
    assert events[-1]["val_accuracy"] > 0.85
    assert events[-1]["loss"] < events[0]["loss"]
    assert first.classes == (0, 1)
    for a, b in zip(first.module.state_dict().values(), second.module.state_dict().values(), strict=True):
        assert np.array_equal(a.numpy(), b.numpy())


def test_early_stopping_stops_on_a_plateau_and_restores_the_best_weights():
    import torch

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 10)).astype(np.float32)
    y = rng.integers(0, 3, size=300)  # pure noise: validation loss can only get worse after a while
    settings = TrainingSettings(max_epochs=200, patience=3, learning_rate=0.01, seed=1)
    trained = train_model(MLP, {"hidden": [64]}, x, y, task="classification", training=settings)
    assert trained.stopped_early and len(trained.history) < 200
    assert len(trained.history) == trained.best_epoch + settings.patience
    assert trained.history[-1]["val_loss"] > trained.best_val_loss
    _, val_idx = split_validation(len(x), settings.validation_fraction, settings.seed)
    xv = torch.from_numpy((x[val_idx] - trained.feature_mean) / trained.feature_std)
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(trained.module(xv), torch.from_numpy(y[val_idx]))
    assert float(loss) == pytest.approx(trained.best_val_loss, rel=1e-5)


@pytest.mark.parametrize("clip", [0.05, None])
def test_gradient_clipping_bounds_the_norm_the_optimizer_sees(clip):
    import torch
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    seen = []

    def hook(optimizer, args, kwargs):
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        seen.append(
            float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))
        )

    x, y = tabular(200)
    handle = register_optimizer_step_pre_hook(hook)
    try:
        settings = TrainingSettings(max_epochs=2, patience=5, clip_grad_norm=clip, learning_rate=0.05)
        trained = train_model(MLP, {"hidden": [32]}, x, y, task="classification", training=settings)
    finally:
        handle.remove()
    assert seen, "the optimizer hook never ran"
    assert max(e["grad_norm"] for e in trained.history) > 0.05, (
        "gradients must be large enough to need clipping"
    )
    if clip is None:
        assert max(seen) > 0.05
    else:
        assert max(seen) <= clip * 1.0001


def test_should_stop_cancels_training():
    x, y = tabular(200)
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 5

    with pytest.raises(TrainingCancelled):
        train_model(
            MLP, {}, x, y, task="classification", training=TrainingSettings(max_epochs=50), should_stop=stop
        )


def test_regression_learns_a_linear_target():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 4)).astype(np.float32)
    y = (100.0 + 30.0 * x[:, 0] - 20.0 * x[:, 2]).astype(np.float32)
    settings = TrainingSettings(max_epochs=40, patience=40, learning_rate=0.01)
    trained = train_model(MLP, {"hidden": [32]}, x, y, task="regression", training=settings)
    assert trained.classes == () and trained.target_mean == pytest.approx(100.0, abs=5)
    assert trained.history[-1]["val_loss"] < 0.05 * trained.history[0]["val_loss"]
    assert trained.history[-1]["val_accuracy"] is None


def test_augmentation_adds_training_rows_only():
    x, y = tabular(200)
    settings = TrainingSettings(
        max_epochs=1, augment=TrainingSettings.from_dict({"augment": ["noise"]}).augment
    )
    trained = train_model(MLP, {}, x, y, task="classification", training=settings)
    train_idx, _ = split_validation(200, settings.validation_fraction, settings.seed)
    assert trained.train_rows == len(train_idx) + round(0.5 * len(train_idx))


def test_a_factory_that_returns_no_module_is_named():
    from reoptimize.train.recipe import RecipeError

    x, y = tabular(50)
    with pytest.raises(RecipeError, match="returned dict; expected a torch.nn.Module"):
        train_model(lambda n, c: {}, {}, x, y, task="classification", training=TrainingSettings(max_epochs=1))
