"""The job entry point a worker calls: build candidates, measure them against the champion, gate, stage.

``run_job`` never touches the production pointer. A passing candidate becomes a new registry
version; promoting it is the daemon's decision. Everything the job learns (metrics of both
models, the verdict and its text, timings) comes back in a :class:`JobResult`.

Example::

    result = run_job(spec, data, FileRegistry("/var/lib/modelhealthd/registry"))
    print(result.verdict.text())
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from reoptimize.augment import augmentations_for_drift
from reoptimize.data import DataError, split_recent, time_range, validate_features
from reoptimize.evaluate import evaluate
from reoptimize.gate import Policy, decide
from reoptimize.job_spec import JobData, JobError, JobResult, JobSpec
from reoptimize.pipelines import steps_for
from reoptimize.recipe import RecipeSpec
from reoptimize.reference import read_parquet_bytes
from reoptimize.registry import FileRegistry
from reoptimize.settings import TrainingSettings
from reoptimize.staging import new_reference, stage_version
from reoptimize.steps.base import Candidate, StepInput
from reoptimize.train import TrainingCancelled as JobCancelled

__all__ = ["JobCancelled", "JobData", "JobError", "JobResult", "JobSpec", "run_job"]


def run_job(
    spec: JobSpec,
    data: JobData,
    registry: FileRegistry,
    *,
    progress: Callable[[dict[str, Any]], None] = lambda event: None,
    should_stop: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.monotonic,
) -> JobResult:
    """Run ``spec.pipeline`` for ``spec.model`` and stage the candidate if the gate passes.

    Raises :class:`JobCancelled` when ``should_stop()`` turns true, :class:`JobError` or
    a ``ValueError`` subclass naming the problem for bad specs or data.
    """
    timings: dict[str, float] = {}
    started = mark = clock()

    def lap(name: str) -> None:
        nonlocal mark
        now = clock()
        timings[name] = now - mark
        mark = now
        if should_stop():
            raise JobCancelled(f"job {spec.job_id} stopped on request after {name}")

    steps = steps_for(spec.pipeline)
    recipe = RecipeSpec.from_dict(spec.recipe)
    policy = Policy.from_dict(spec.policy)
    training = _training(recipe, spec, data.features)
    progress({"stage": "load", "job_id": spec.job_id})
    champion_version, manifest = _champion(spec, registry)
    features, label = tuple(data.features), data.label
    if manifest.features and tuple(manifest.features) != features:
        raise JobError(
            f"{spec.model} v{champion_version} expects features {list(manifest.features)}, the job has {list(features)}"
        )
    if manifest.task != recipe.task:
        raise JobError(
            f"{spec.model} v{champion_version} is a {manifest.task} model; the recipe says {recipe.task}"
        )
    champion_onnx = registry.read_bytes(spec.model, champion_version, "model.onnx")
    holdout_bytes = registry.read_bytes(spec.model, champion_version, "holdout.parquet")
    holdout = read_parquet_bytes(holdout_bytes)
    weights = None
    if "weights.safetensors" in manifest.files:
        weights = registry.read_bytes(spec.model, champion_version, "weights.safetensors")
    recent = (
        data.recent[data.recent[label].notna()] if label in data.recent.columns else data.recent.iloc[0:0]
    )
    recent_train, recent_eval = split_recent(recent) if len(recent) >= 2 else (recent, recent.iloc[0:0])
    validate_features(data.reference, features, f"job {spec.job_id} reference")
    validate_features(recent, features, f"job {spec.job_id} recent window")
    columns = [*features, label]
    reference = data.reference if label in data.reference.columns else data.reference.assign(**{label: None})
    train = pd.concat([reference[columns].dropna(subset=[label]), recent_train[columns]], ignore_index=True)
    if not len(train):
        raise DataError(f"job {spec.job_id}: no labelled rows to train on (reference and recent are empty)")
    lap("load")

    current = Candidate(
        name="champion",
        onnx_bytes=champion_onnx,
        task=manifest.task,
        classes=tuple(manifest.classes),
        weights=weights,
        stats=dict(manifest.extra),
    )
    step_infos = []
    for step in steps:
        progress({"stage": "step", "step": step.name})
        out = step.run(
            StepInput(current, train, features, label, recipe, training, spec.params, progress, should_stop)
        )
        current = out.candidate
        step_infos.append(dict(out.info))
        lap(f"step:{step.name}")

    progress({"stage": "evaluate"})
    measured = evaluate(
        {"champion": champion_onnx, "candidate": current.onnx_bytes},
        holdout,
        recent_eval,
        {"champion": data.reference, "candidate": train},
        task=manifest.task,
        features=features,
        label=label,
        classes={"champion": tuple(manifest.classes), "candidate": current.classes},
        cost=spec.cost,
    )
    lap("evaluate")
    version = registry.next_version(spec.model)
    verdict = decide(
        measured["candidate"],
        measured["champion"],
        policy,
        spec.trigger,
        candidate_label=f"v{version}",
        champion_label=f"v{champion_version}",
    )
    progress({"stage": "gate", "passed": verdict.passed})
    windows = {
        "reference": time_range(data.reference),
        "recent": time_range(recent),
        "recent_train": time_range(recent_train),
        "recent_eval": time_range(recent_eval),
        "holdout": {"rows": int(len(holdout))},
        "unlabelled": time_range(data.unlabelled) if data.unlabelled is not None else {"rows": 0},
    }
    staged = None
    if verdict.passed:
        reference = new_reference(
            current, recent, data.unlabelled, data.reference, features, label, since=data.reference_since
        )
        windows["new_reference"] = {"rows": int(len(reference))}
        lineage = {
            "parent": champion_version,
            "job_id": spec.job_id,
            "pipeline": spec.pipeline,
            "params": dict(spec.params),
            "trigger": dict(spec.trigger),
            "data_windows": windows,
            "steps": step_infos,
            "gate": verdict.to_json(),
            "champion_metrics": measured["champion"].to_json(),
        }
        staged = stage_version(
            registry,
            spec.model,
            current,
            version=version,
            parent=champion_version,
            reference=reference,
            holdout_bytes=holdout_bytes,
            features=features,
            label=label,
            metrics=measured["candidate"].to_json(),
            lineage=lineage,
        ).version
    else:
        verdict = replace(verdict, candidate_label=f"candidate of job {spec.job_id}")
    lap("gate")
    timings["total"] = clock() - started
    return JobResult(
        job_id=spec.job_id,
        model=spec.model,
        pipeline=spec.pipeline,
        champion_version=champion_version,
        champion=measured["champion"],
        candidate=measured["candidate"],
        verdict=verdict,
        staged_version=staged,
        timings=timings,
        steps=tuple(step_infos),
        data_windows=windows,
    )


def _training(recipe: RecipeSpec, spec: JobSpec, features: tuple[str, ...]) -> TrainingSettings:
    """The recipe's training settings with the action's ``with:`` applied.

    ``augment: auto`` picks augmentations for the drift that triggered the job: the names in
    ``trigger.drifted_features``, or as many features as the count in
    ``trigger.measurements.drifted_features``.
    """
    params = dict(spec.params)
    if params.get("augment") == "auto":
        drifted: Sequence[str] = ()
        names = spec.trigger.get("drifted_features")
        count = (spec.trigger.get("measurements") or {}).get("drifted_features")
        if isinstance(names, list | tuple):
            drifted = tuple(map(str, names))
        elif isinstance(count, int | float) and count > 0:
            drifted = tuple(features[: int(count)])
        params["augment"] = list(augmentations_for_drift(drifted, recipe.image_shape, len(features)))
    return recipe.training.with_overrides(params, where="with")


def _champion(spec: JobSpec, registry: FileRegistry) -> tuple[str, Any]:
    version = spec.champion_version or registry.production(spec.model)
    if version is None:
        raise JobError(f"model {spec.model!r} has no production version to compare against")
    manifest = registry.verify(spec.model, version)
    if "holdout.parquet" not in manifest.files:
        raise JobError(f"{spec.model} v{version} has no holdout.parquet; a job needs the fixed holdout")
    return version, manifest
