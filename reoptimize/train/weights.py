"""Torch weights as safetensors: the user module's state_dict, nothing pickled.

The normalization statistics live in the manifest's ``extra`` (see ``TrainedModel.stats_json``),
so a module can be rebuilt from ``factory``, ``params`` and these weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from reoptimize.tasks.task import Task, task_named
from reoptimize.train.recipe import build_module
from reoptimize.train.settings import TrainingSettings
from reoptimize.train.trainer import TrainedModel


def weights_bytes(trained: TrainedModel) -> bytes:
    """The user module's state_dict serialized with safetensors."""
    from safetensors.torch import save

    state = {
        name: tensor.detach().contiguous().clone() for name, tensor in trained.module.state_dict().items()
    }
    return save(state)


def load_trained(
    weights: bytes, stats: Mapping[str, Any], *, task: str | Task, classes: tuple[Any, ...] = ()
) -> TrainedModel:
    """Rebuild a :class:`TrainedModel` from ``weights.safetensors`` and the manifest ``extra``."""
    from safetensors.torch import load

    mean = np.asarray(stats["feature_mean"], dtype=np.float32)
    kind = task_named(task)
    n_outputs = kind.n_outputs(classes)
    module = build_module(stats["factory"], len(mean), n_outputs, dict(stats.get("params", {})))
    module.load_state_dict(load(weights))
    module.eval()
    return TrainedModel(
        module=module,
        task=kind.name,
        classes=tuple(classes),
        feature_mean=mean,
        feature_std=np.asarray(stats["feature_std"], dtype=np.float32),
        factory=stats["factory"],
        params=dict(stats.get("params", {})),
        target_mean=float(stats.get("target_mean", 0.0)),
        target_std=float(stats.get("target_std", 1.0)),
        settings=TrainingSettings(),
    )
