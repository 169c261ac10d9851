"""Helpers for step tests: the champion of a registry as a job sees it, and a StepInput around it."""

from __future__ import annotations

import pandas as pd

CANCER_FEATURES = tuple(f"c{i:02d}" for i in range(30))
CANCER_RECIPE = {
    "factory": "reoptimize.recipes.mlp:mlp",
    "params": {"hidden": [128, 128]},
    "task": "classification",
    "training": {"max_epochs": 40, "patience": 6, "learning_rate": 0.002, "batch_size": 32},
}


def champion_of(registry, model: str):
    """The production version of ``model`` as the Candidate a job starts from."""
    from reoptimize.steps.step import Candidate

    version = registry.production(model)
    manifest = registry.verify(model, version)
    weights = (
        registry.read_bytes(model, version, "weights.safetensors")
        if "weights.safetensors" in manifest.files
        else None
    )
    return Candidate(
        name="champion",
        onnx_bytes=registry.read_bytes(model, version, "model.onnx"),
        task=manifest.task,
        classes=tuple(manifest.classes),
        weights=weights,
        stats=dict(manifest.extra),
    )


def reference_rows(registry, model: str) -> pd.DataFrame:
    from reoptimize.train.reference_frames import read_parquet_bytes

    version = registry.production(model)
    return read_parquet_bytes(registry.read_bytes(model, version, "reference.parquet"))


def step_input(registry, model: str, recipe: dict, features, params=None, traffic=None, **changes):
    """A StepInput as a job builds it: the champion, its reference rows as training rows."""
    from reoptimize.steps.step import StepInput
    from reoptimize.train.recipe import RecipeSpec

    spec = RecipeSpec.from_dict(recipe)
    train = reference_rows(registry, model)[[*features, "label"]]
    base = dict(
        current=champion_of(registry, model),
        train=train,
        features=tuple(features),
        label="label",
        recipe=spec,
        training=spec.training,
        params=params or {},
        traffic=traffic,
    )
    return StepInput(**{**base, **changes})


def measure_on_holdout(registry, model: str, models: dict, features, classes, latency_runs: int = 200):
    """``evaluate`` of the named ONNX models on version 1's fixed holdout, as a job measures them."""
    from reoptimize.gate.evaluation import evaluate
    from reoptimize.train.reference_frames import read_parquet_bytes

    holdout = read_parquet_bytes(registry.read_bytes(model, "1", "holdout.parquet"))
    return evaluate(
        models,
        holdout,
        None,
        None,
        task="classification",
        features=features,
        label="label",
        classes=tuple(classes),
        latency_runs=latency_runs,
    )
