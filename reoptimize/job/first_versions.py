"""First versions: train one from a recipe, or register an ONNX model a user brings.

Both create the model's fixed holdout when the model has no version yet (a deterministic
split of the given data that no later training ever sees) and set production only when the
model has none, so a running deployment is never switched behind the daemon's back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from reoptimize.cards.model_card import add_version_with_card
from reoptimize.families.family import family_of
from reoptimize.gate.evaluation import evaluate
from reoptimize.registry.manifest import Manifest
from reoptimize.registry.registry import Registry
from reoptimize.registry.registry_errors import RegistryError
from reoptimize.tasks.task import task_named
from reoptimize.train.recipe import RecipeSpec
from reoptimize.train.reference_frames import parquet_bytes, predict_frame, read_parquet_bytes
from reoptimize.train.tables import (
    DataError,
    sorted_classes,
    split_holdout,
    time_range,
    validate_features,
    validate_training_frame,
)

HOLDOUT_FRACTION = 0.2


class VersionError(RegistryError):
    """A version that cannot be created; the message names the model and the problem."""


def train_first_version(
    registry: Registry,
    model: str,
    recipe: Mapping[str, Any] | RecipeSpec,
    data: pd.DataFrame,
    features: Sequence[str],
    label: str,
    *,
    progress: Callable[[dict[str, Any]], None] | None = None,
    holdout_fraction: float = HOLDOUT_FRACTION,
    seed: int = 0,
    cost: Mapping[str, Any] | None = None,
) -> Manifest:
    """Split the holdout, train from ``recipe``, export, measure, write version 1 and set production."""
    from reoptimize.train.export import export_onnx
    from reoptimize.train.trainer import train_model
    from reoptimize.train.weights import weights_bytes

    if registry.versions(model):
        raise VersionError(
            f"model {model!r} already has versions {registry.versions(model)}; retrain it with a job"
        )
    spec = recipe if isinstance(recipe, RecipeSpec) else RecipeSpec.from_dict(recipe)
    family = family_of(spec)
    if not family.torch_weights:
        raise VersionError(
            f"{model}: the {family.name} family has no torch weights; only torch recipes train here"
        )
    features = tuple(features)
    validate_training_frame(data, features, label, spec.task, where=f"{model} training data")
    train, holdout = split_holdout(data[[*features, label]], holdout_fraction, seed)
    x = train[list(features)].to_numpy(dtype=np.float32)
    trained = train_model(
        spec.factory,
        spec.params,
        x,
        train[label].to_numpy(),
        task=spec.task,
        training=spec.training,
        progress=progress,
        image_shape=spec.image_shape,
        augmentations=family.augmentations(spec.training.augment, spec.image_shape),
    )
    export = export_onnx(trained, len(features), sample=x[:256])
    metrics = evaluate(
        {"v1": export.onnx_bytes},
        holdout,
        None,
        train,
        task=spec.task,
        features=features,
        label=label,
        classes=trained.classes,
        cost=cost,
    )["v1"]
    reference = _with_predictions(export.onnx_bytes, train, features, spec.task, trained.classes)
    files = {
        "model.onnx": export.onnx_bytes,
        "reference.parquet": parquet_bytes(reference),
        "holdout.parquet": parquet_bytes(holdout),
        "weights.safetensors": weights_bytes(trained),
    }
    lineage = {
        "source": "train_first_version",
        "recipe": spec.to_json(),
        "data_windows": {"train": time_range(train), "holdout": time_range(holdout)},
        "epochs": len(trained.history),
        "best_epoch": trained.best_epoch,
    }
    extra = {**trained.stats_json(), "export": export.to_json()}
    manifest = add_version_with_card(
        registry,
        model,
        files,
        parent=None,
        task=spec.task,
        features=features,
        label=label,
        classes=trained.classes,
        metrics=metrics.to_json(),
        lineage=lineage,
        extra=extra,
        reference=reference,
    )
    registry.set_production(model, manifest.version)
    return manifest


def register_version(
    registry: Registry,
    model: str,
    onnx_bytes: bytes,
    reference: pd.DataFrame,
    features: Sequence[str],
    label: str,
    task: str,
    classes: Sequence[Any] | None = None,
    weights: bytes | None = None,
) -> Manifest:
    """Add a user's ONNX model as a new version, with ``reference`` as what it is monitored against.

    The model must load in ONNX Runtime and take ``len(features)`` inputs. The first
    version's holdout is split from ``reference`` (which then needs labels); later versions
    reuse the production version's holdout unchanged.
    """
    from reoptimize.onnx.onnx_model import OnnxModel, OnnxModelError

    features = tuple(features)
    where = f"{model} reference"
    validate_features(reference, features, where)
    has_labels = label in reference.columns and reference[label].notna().any()
    kind = task_named(task)
    if classes is None and kind.has_classes:
        if not has_labels:
            raise DataError(
                f"{where}: label {label!r} is needed to learn the classes; pass classes= or add labels"
            )
        classes = sorted_classes(reference[label])
    classes = tuple(classes or ())
    try:
        runtime = OnnxModel(onnx_bytes, task=task, classes=classes, source=f"{model} model.onnx")
    except OnnxModelError as exc:
        raise VersionError(str(exc)) from None
    if runtime.n_features is not None and runtime.n_features != len(features):
        raise VersionError(
            f"{model} model.onnx takes {runtime.n_features} features; {len(features)} were given"
        )
    try:
        probe = runtime.run(reference[list(features)].head(4).to_numpy(dtype=np.float32))
    except Exception as exc:  # OnnxModelError, or ONNX Runtime's own types for shape and type mismatches
        raise VersionError(f"{model} model.onnx: cannot run it on {len(features)} features ({exc})") from None
    if probe.proba is not None and classes and probe.proba.shape[1] != len(classes):
        raise VersionError(
            f"{model} model.onnx outputs {probe.proba.shape[1]} probabilities for {len(classes)} classes"
        )

    production = registry.production(model)
    existing = registry.versions(model)
    parent = production or (existing[-1] if existing else None)
    if parent is not None:
        holdout_bytes = registry.read_bytes(model, parent, "holdout.parquet")
        holdout, monitored = read_parquet_bytes(holdout_bytes), reference
    else:
        if not has_labels:
            raise DataError(f"{where}: label {label!r} is needed to split the first version's holdout")
        validate_training_frame(
            reference, features, label, kind, classes if kind.has_classes else None, where
        )
        monitored, holdout = split_holdout(reference, HOLDOUT_FRACTION)
        holdout_bytes = parquet_bytes(holdout[[*features, label]])
    metrics = evaluate(
        {"model": onnx_bytes},
        holdout,
        None,
        monitored if has_labels else None,
        task=task,
        features=features,
        label=label,
        classes=classes,
    )["model"]
    reference_frame = _with_predictions(onnx_bytes, monitored, features, task, classes)
    files = {
        "model.onnx": onnx_bytes,
        "reference.parquet": parquet_bytes(reference_frame),
        "holdout.parquet": holdout_bytes,
    }
    if weights is not None:
        files["weights.safetensors"] = weights
    lineage = {"source": "register_version", "data_windows": {"reference": time_range(monitored)}}
    manifest = add_version_with_card(
        registry,
        model,
        files,
        parent=parent,
        task=task,
        features=features,
        label=label,
        classes=classes,
        metrics=metrics.to_json(),
        lineage=lineage,
        extra={},
        reference=reference_frame,
    )
    if production is None:
        registry.set_production(model, manifest.version)
    return manifest


def _with_predictions(
    onnx_bytes: bytes, df: pd.DataFrame, features: Sequence[str], task: str, classes: Sequence[Any]
) -> pd.DataFrame:
    from reoptimize.onnx.onnx_model import OnnxModel

    return predict_frame(OnnxModel(onnx_bytes, task=task, classes=classes), df, features)
