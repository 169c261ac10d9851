"""Retrain: a fresh model from the recipe on the reference plus the recent training rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from reoptimize.data import DataError, sorted_classes, validate_training_frame
from reoptimize.steps.base import Candidate, StepInput, StepOutput

EXPORT_SAMPLE_ROWS = 256


class RetrainStep:
    """Train from scratch with the recipe's settings (augmentation, early stopping, clipping), then export.

    The candidate keeps every class the current model knows, so a quiet class in the recent
    window does not vanish from the output.
    """

    name = "retrain"

    def run(self, step_input: StepInput) -> StepOutput:
        from reoptimize.export import export_onnx
        from reoptimize.train import train_model
        from reoptimize.weights import weights_bytes

        inp = step_input
        task = inp.recipe.task
        validate_training_frame(inp.train, inp.features, inp.label, task, where="retrain training rows")
        x = inp.train[list(inp.features)].to_numpy(dtype=np.float32)
        y = inp.train[inp.label].to_numpy()
        classes: tuple[Any, ...] = ()
        if task == "classification":
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
        )
        sample = x[np.linspace(0, len(x) - 1, num=min(len(x), EXPORT_SAMPLE_ROWS)).astype(int)]
        export = export_onnx(trained, len(inp.features), sample=sample)
        info = {
            "step": self.name,
            "epochs": len(trained.history),
            "best_epoch": trained.best_epoch,
            "best_val_loss": trained.best_val_loss,
            "stopped_early": trained.stopped_early,
            "train_rows": int(len(x)),
            "augmented_rows": trained.train_rows,
            "training": inp.training.to_json(),
            "export": export.to_json(),
        }
        candidate = Candidate(
            name=self.name,
            onnx_bytes=export.onnx_bytes,
            task=task,
            classes=trained.classes,
            weights=weights_bytes(trained),
            stats={**trained.stats_json(), "export": export.to_json()},
            trained=trained,
            info=info,
        )
        return StepOutput(candidate=candidate, info=info)


def make_step() -> RetrainStep:
    return RetrainStep()
