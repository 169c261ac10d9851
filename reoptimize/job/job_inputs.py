"""What a job starts from: the champion, its holdout, and the data split into its uses.

* ``train``: the reference's labelled rows plus the training part of the recent labelled
  window; steps learn from these only;
* ``recent_eval``: the evaluation part of the recent window, never trained on;
* ``holdout``: the model's fixed holdout, never trained on;
* ``traffic``: recent rows with their labels removed (unlabelled traffic first, then the
  training part of the labelled window), for calibration and for a teacher to label. The
  ``_source`` column says which is which.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reoptimize.families.family import ModelFamily, family_of
from reoptimize.gate.label_check import check_label_agreement
from reoptimize.job.goals import trigger_measurements
from reoptimize.job.job_spec import JobData, JobError, JobSpec
from reoptimize.onnx.onnx_model import OnnxModel
from reoptimize.registry.manifest import Manifest
from reoptimize.registry.registry import Registry
from reoptimize.steps.step import Candidate
from reoptimize.tasks.task import task_named
from reoptimize.train.recipe import RecipeSpec
from reoptimize.train.reference_frames import read_parquet_bytes
from reoptimize.train.settings import TrainingSettings
from reoptimize.train.tables import DataError, split_recent, time_range, validate_classes, validate_features

SOURCE = "_source"


@dataclass(frozen=True)
class JobInputs:
    champion_version: str
    manifest: Manifest
    champion: Candidate
    holdout: pd.DataFrame
    holdout_bytes: bytes
    recent: pd.DataFrame
    recent_train: pd.DataFrame
    recent_eval: pd.DataFrame
    train: pd.DataFrame
    traffic: pd.DataFrame


def load_inputs(spec: JobSpec, data: JobData, registry: Registry, recipe: RecipeSpec) -> JobInputs:
    version, manifest = _champion(spec, registry)
    features, label = tuple(data.features), data.label
    if manifest.features and tuple(manifest.features) != features:
        raise JobError(
            f"{spec.model} v{version} expects features {list(manifest.features)}, the job has {list(features)}"
        )
    if manifest.task != recipe.task:
        raise JobError(f"{spec.model} v{version} is a {manifest.task} model; the recipe says {recipe.task}")
    onnx_bytes = registry.read_bytes(spec.model, version, "model.onnx")
    holdout_bytes = registry.read_bytes(spec.model, version, "holdout.parquet")
    weights = None
    if "weights.safetensors" in manifest.files:
        weights = registry.read_bytes(spec.model, version, "weights.safetensors")
    recent = (
        data.recent[data.recent[label].notna()] if label in data.recent.columns else data.recent.iloc[0:0]
    )
    recent_train, recent_eval = split_recent(recent) if len(recent) >= 2 else (recent, recent.iloc[0:0])
    validate_features(data.reference, features, f"job {spec.job_id} reference")
    validate_features(recent, features, f"job {spec.job_id} recent window")
    task = task_named(manifest.task, f"{spec.model} v{version} manifest.task")
    if task.has_classes and manifest.classes and len(recent):
        where = f"job {spec.job_id} recent window"
        validate_classes(recent[label], manifest.classes, label, where)
        champion_says = OnnxModel(
            onnx_bytes, task=task, classes=manifest.classes, source=f"{spec.model} v{version}"
        ).run(recent[list(features)].to_numpy(dtype=np.float32))
        check_label_agreement(champion_says.labels, recent[label].tolist(), manifest.classes, where)
    columns = [*features, label]
    reference = data.reference if label in data.reference.columns else data.reference.assign(**{label: None})
    train = pd.concat([reference[columns].dropna(subset=[label]), recent_train[columns]], ignore_index=True)
    if not len(train):
        raise DataError(f"job {spec.job_id}: no labelled rows to train on (reference and recent are empty)")
    parts = []
    if data.unlabelled is not None and len(data.unlabelled):
        validate_features(data.unlabelled, features, f"job {spec.job_id} unlabelled traffic")
        parts.append(data.unlabelled[list(features)].assign(**{SOURCE: "unlabelled"}))
    parts.append(recent_train[list(features)].assign(**{SOURCE: "labelled"}))
    traffic = pd.concat(parts, ignore_index=True)
    champion = Candidate(
        name="champion",
        onnx_bytes=onnx_bytes,
        task=manifest.task,
        classes=tuple(manifest.classes),
        weights=weights,
        stats=dict(manifest.extra),
    )
    return JobInputs(
        version,
        manifest,
        champion,
        read_parquet_bytes(holdout_bytes),
        holdout_bytes,
        recent,
        recent_train,
        recent_eval,
        train,
        traffic,
    )


def _champion(spec: JobSpec, registry: Registry) -> tuple[str, Manifest]:
    version = spec.champion_version or registry.production(spec.model)
    if version is None:
        raise JobError(f"model {spec.model!r} has no production version to compare against")
    manifest = registry.verify(spec.model, version)
    if "holdout.parquet" not in manifest.files:
        raise JobError(f"{spec.model} v{version} has no holdout.parquet; a job needs the fixed holdout")
    return version, manifest


def training_for(
    recipe: RecipeSpec,
    params: Mapping[str, Any],
    trigger: Mapping[str, Any],
    features: Sequence[str],
    family: ModelFamily | None = None,
) -> TrainingSettings:
    """The recipe's training settings with the action's ``with:`` applied.

    ``augment: auto`` lets the recipe's family pick augmentations for the drift that triggered
    the job: the names in ``trigger.drifted_features``, or as many features as the trigger's
    ``drifted_features`` count.
    """
    params = dict(params)
    if params.get("augment") == "auto":
        drifted: Sequence[str] = ()
        names = trigger.get("drifted_features")
        count = trigger_measurements(trigger).get("drifted_features")
        if isinstance(names, list | tuple):
            drifted = tuple(map(str, names))
        elif isinstance(count, int | float) and count > 0:
            drifted = tuple(features[: int(count)])
        family = family or family_of(recipe)
        params["augment"] = list(family.drift_augmentations(drifted, recipe.image_shape, len(features)))
    return recipe.training.with_overrides(params, where="with")


def frame_sha256(frame: pd.DataFrame) -> str:
    """A content hash of a frame's values (row order included, index ignored)."""
    hashed = pd.util.hash_pandas_object(frame.reset_index(drop=True), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def windows(inputs: JobInputs, data: JobData) -> dict[str, Any]:
    return {
        "reference": time_range(data.reference),
        "recent": time_range(inputs.recent),
        "recent_train": time_range(inputs.recent_train),
        "recent_eval": time_range(inputs.recent_eval),
        "holdout": {"rows": int(len(inputs.holdout))},
        "unlabelled": time_range(data.unlabelled) if data.unlabelled is not None else {"rows": 0},
        "train": {"rows": int(len(inputs.train))},
    }


def input_hashes(inputs: JobInputs) -> dict[str, Any]:
    """sha256 of what the job started from, so a version can be traced to its exact inputs."""
    files = inputs.manifest.files
    return {
        "parent_model_sha256": files.get("model.onnx"),
        "parent_reference_sha256": files.get("reference.parquet"),
        "holdout_sha256": files.get("holdout.parquet"),
        "train_rows_sha256": frame_sha256(inputs.train),
        "recent_eval_rows_sha256": frame_sha256(inputs.recent_eval),
    }
