"""Distill: the current model teaches a smaller student (see :mod:`reoptimize.train.distill`).

``with: {distill: {width: 0.5, depth: 1, temperature: 4, alpha: 0.7}}`` or an explicit
``hidden: [32]``. The student is the recipe's family's (an MLP for ``mlp``), shaped by those
settings; a family without students is refused. The teacher is any ONNX model, so a model
registered without a recipe or weights can still teach. The transfer set is the training rows
plus recent unlabelled traffic.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reoptimize.families.family import family_of
from reoptimize.steps.step import TORCH, TRAFFIC, StepError, StepInput, StepOutput, step_params
from reoptimize.tasks.task import task_named
from reoptimize.train.settings import check_number

DEFAULTS = {
    "hidden": None,
    "width": 0.5,
    "depth": None,
    "temperature": 4.0,
    "alpha": 0.7,
    "use_traffic": True,
}


def read_params(params: dict[str, Any]) -> dict[str, Any]:
    p = step_params(params, "distill", DEFAULTS)
    hidden = p["hidden"]
    if hidden is not None:
        hidden = [hidden] if isinstance(hidden, int) else hidden
        if not isinstance(hidden, list) or any(
            isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in hidden
        ):
            raise StepError(
                f"with.distill.hidden: got {p['hidden']!r}; expected positive widths such as [32]"
            )
        p["hidden"] = list(hidden)
    check_number("with.distill.width", p["width"], low=0, strict_low=True)
    if p["depth"] is not None:
        check_number("with.distill.depth", p["depth"], integer=True, low=1)
    check_number("with.distill.temperature", p["temperature"], low=0, strict_low=True)
    check_number("with.distill.alpha", p["alpha"], low=0, high=1.0000001)
    if not isinstance(p["use_traffic"], bool):
        raise StepError(f"with.distill.use_traffic: got {p['use_traffic']!r}; expected true or false")
    return p


class DistillStep:
    """Train a smaller student on the teacher's softened outputs and the labels."""

    name = "distill"
    needs: frozenset[str] = frozenset({TORCH, TRAFFIC})
    budget_share: float | None = None

    def run(self, step_input: StepInput) -> StepOutput:
        import pandas as pd
        import torch

        from reoptimize.onnx.onnx_model import OnnxModel
        from reoptimize.steps.torch_candidate import export_candidate
        from reoptimize.train.distill import (
            UNLABELLED,
            kd_classification_loss,
            kd_regression_loss,
            soft_targets,
        )
        from reoptimize.train.fit import fit_module
        from reoptimize.train.recipe import build_module
        from reoptimize.train.tables import validate_training_frame
        from reoptimize.train.trainer import TrainedModel, encode_labels, split_validation

        inp, current = step_input, step_input.current
        p = read_params(dict(inp.params))
        task, classes = task_named(current.task), tuple(current.classes)
        family = family_of(inp.recipe)
        student_plan = family.student(dict(current.stats.get("params", {})), p)
        if student_plan is None:
            raise StepError(f"distill: the {family.name} family has no student to distill into")
        validate_training_frame(inp.train, inp.features, inp.label, task, where="distill training rows")
        if task.has_classes and not classes:
            raise StepError(f"distill: {current.name} lists no classes; the student needs them")
        x_lab = inp.train[list(inp.features)].to_numpy(np.float32)
        extra = pd.DataFrame(columns=list(inp.features))
        unlabelled = inp.unlabelled()
        if p["use_traffic"] and unlabelled is not None:
            extra = unlabelled[list(inp.features)]
        x_all = np.concatenate([x_lab, extra.to_numpy(np.float32)]) if len(extra) else x_lab
        teacher = OnnxModel(current.onnx_bytes, task=task, classes=classes, source=f"teacher {current.name}")
        inp.progress({"stage": "distill", "step": self.name, "rows": int(len(x_all))})
        predicted = teacher.run(x_all)
        mean = x_all.mean(axis=0).astype(np.float32)
        std = np.where(x_all.std(axis=0) < 1e-6, 1.0, x_all.std(axis=0)).astype(np.float32)
        xs = torch.from_numpy((x_all - mean) / std)
        n_lab, settings = len(x_lab), inp.training
        train_idx, val_idx = split_validation(n_lab, settings.validation_fraction, settings.seed)
        fit_idx = np.concatenate([train_idx, np.arange(n_lab, len(x_all))])
        if task.has_classes:
            if predicted.proba is None:  # a converted classifier may emit labels alone
                raise StepError(
                    f"distill: the teacher {current.name} gives labels only, no class probabilities; "
                    "the student learns from the teacher's probabilities"
                )
            labels = np.full(len(x_all), UNLABELLED, dtype=np.int64)
            labels[:n_lab] = encode_labels(inp.train[inp.label].to_numpy(), task, classes)
            teach = torch.from_numpy(soft_targets(predicted.proba, float(p["temperature"])))
            labels_t, t_mean, t_std = torch.from_numpy(labels), 0.0, 1.0
            loss = kd_classification_loss(float(p["temperature"]), float(p["alpha"]))
            n_out = len(classes)
        else:
            y = inp.train[inp.label].to_numpy(np.float64)
            t_mean, t_std = float(y.mean()), float(y.std() or 1.0)
            labels = np.full(len(x_all), np.nan, dtype=np.float32)
            labels[:n_lab] = (y - t_mean) / t_std
            values = (np.asarray(predicted.labels, dtype=np.float64) - t_mean) / t_std
            teach = torch.from_numpy(values.astype(np.float32)).reshape(-1, 1)
            labels_t = torch.from_numpy(labels).reshape(-1, 1)
            loss = kd_regression_loss(float(p["alpha"]))
            n_out = 1
        torch.set_num_threads(1)
        torch.manual_seed(settings.seed)
        student = build_module(student_plan.factory, len(inp.features), n_out, dict(student_plan.params))
        base_loss = task.loss()
        fit = fit_module(
            student,
            loss,
            (xs[fit_idx], labels_t[fit_idx], teach[fit_idx]),
            (xs[val_idx], labels_t[val_idx], teach[val_idx]),
            settings=settings,
            classify=task.has_classes,
            val_loss_fn=lambda out, labels, _teacher: base_loss(out, labels),
            progress=lambda event: inp.progress({"stage": "distill", "step": self.name, **event}),
            should_stop=inp.should_stop,
        )
        trained = TrainedModel(
            module=student,
            task=task.name,
            classes=classes,
            feature_mean=mean,
            feature_std=std,
            factory=student_plan.factory,
            params=dict(student_plan.params),
            target_mean=t_mean,
            target_std=t_std,
            history=fit.history,
            best_epoch=fit.best_epoch,
            best_val_loss=fit.best_val_loss,
            stopped_early=fit.stopped_early,
            train_rows=int(len(fit_idx)),
            settings=settings,
        )
        with torch.no_grad():
            out = student(xs[val_idx])
        if task.has_classes:
            agreement_key = "val_agreement_with_teacher"
            agreement = float((out.argmax(dim=1) == teach[val_idx].argmax(dim=1)).float().mean())
        else:
            agreement_key = "val_rmse_to_teacher"
            agreement = float(torch.sqrt(torch.mean((out - teach[val_idx]) ** 2)) * t_std)
        student_size = sum(t.numel() for t in student.parameters())
        info = {
            "step": self.name,
            "family": family.name,
            **student_plan.info,
            "student_parameters": int(student_size),
            "teacher": current.name,
            "teacher_params": dict(current.stats.get("params", {})),
            "temperature": float(p["temperature"]),
            "alpha": float(p["alpha"]),
            "transfer_rows": {"labelled": int(n_lab), "unlabelled": int(len(x_all) - n_lab)},
            "epochs": len(fit.history),
            "best_epoch": fit.best_epoch,
            agreement_key: agreement,
        }
        candidate = export_candidate(trained, f"{current.name}+distill", x_lab, info)
        return StepOutput(candidate=candidate, info=candidate.info)


def make_step() -> DistillStep:
    return DistillStep()
