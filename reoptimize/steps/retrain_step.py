"""Retrain: a fresh model from the recipe on the reference plus the recent training rows.

``with: {augment: auto, teacher_confidence: 0.95}``: ``augment`` is applied by the job to
the training settings (``auto`` matches the drift seen). With ``teacher_confidence``, recent
unlabelled traffic that the current model labels with at least that confidence joins the
training rows (data distillation, see :mod:`reoptimize.steps.pseudo_label`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reoptimize.families.family import family_of
from reoptimize.steps.step import RECIPE, TORCH, TRAFFIC, StepInput, StepOutput, step_params
from reoptimize.tasks.task import task_named
from reoptimize.train.settings import check_number

DEFAULTS = {"teacher_confidence": None}


def read_params(params: dict[str, Any]) -> dict[str, Any]:
    p = step_params(params, "retrain", DEFAULTS)
    if p["teacher_confidence"] is not None:
        check_number(
            "with.teacher_confidence", p["teacher_confidence"], low=0, strict_low=True, high=1.0000001
        )
    return p


class RetrainStep:
    """Train from scratch with the recipe's settings (augmentation, early stopping, clipping), then export.

    The candidate keeps every class the current model knows, so a quiet class in the recent
    window does not vanish from the output.
    """

    name = "retrain"
    needs: frozenset[str] = frozenset({RECIPE, TORCH, TRAFFIC})
    budget_share: float | None = None

    def run(self, step_input: StepInput) -> StepOutput:
        import pandas as pd

        from reoptimize.steps.torch_candidate import export_candidate
        from reoptimize.train.tables import DataError, sorted_classes, validate_training_frame
        from reoptimize.train.trainer import train_model

        inp = step_input
        p = read_params(dict(inp.params))
        task = task_named(inp.recipe.task, "recipe.task")
        validate_training_frame(inp.train, inp.features, inp.label, task, where="retrain training rows")
        train = inp.train[[*inp.features, inp.label]]
        teacher: dict[str, Any] | None = None
        unlabelled = inp.unlabelled()
        if p["teacher_confidence"] is not None and unlabelled is not None:
            from reoptimize.steps.pseudo_label import teacher_labels

            extra, teacher = teacher_labels(
                inp.current, unlabelled, inp.features, inp.label, float(p["teacher_confidence"])
            )
            if len(extra):
                train = pd.concat([train, extra], ignore_index=True)
        x = train[list(inp.features)].to_numpy(dtype=np.float32)
        y = train[inp.label].to_numpy()
        classes: tuple[Any, ...] = ()
        if task.has_classes:
            try:
                classes = sorted_classes(list(inp.current.classes) + list(y))
            except DataError as exc:
                raise DataError(f"retrain: labels do not match the current model's classes ({exc})") from None

        def progress(event: dict[str, Any]) -> None:
            inp.progress({"stage": "train", "step": self.name, **event})

        trained = train_model(
            inp.recipe.factory,
            inp.recipe.params,
            x,
            y,
            task=task,
            training=inp.training,
            progress=progress,
            should_stop=inp.should_stop,
            classes=classes or None,
            image_shape=inp.recipe.image_shape,
            augmentations=family_of(inp.recipe).augmentations(inp.training.augment, inp.recipe.image_shape),
        )
        info = {
            "step": self.name,
            "epochs": len(trained.history),
            "best_epoch": trained.best_epoch,
            "best_val_loss": trained.best_val_loss,
            "stopped_early": trained.stopped_early,
            "train_rows": int(len(x)),
            "augmented_rows": trained.train_rows,
            "training": inp.training.to_json(),
            "teacher_labels": teacher,
        }
        candidate = export_candidate(trained, self.name, x, info)
        return StepOutput(candidate=candidate, info=candidate.info)


def make_step() -> RetrainStep:
    return RetrainStep()
