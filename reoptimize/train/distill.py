"""Knowledge distillation: a small student learns the champion's outputs, softened by a temperature.

The student's shape is its family's choice (:meth:`reoptimize.families.family.ModelFamily.student`).

The teacher is any ONNX model that follows the model contract, so a champion registered by a
user without torch weights can still teach. Its probabilities are softened as
``softmax(log(p) / T)``, which equals ``softmax(logits / T)`` without needing the logits.
The student's loss on a batch is::

    alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(student, label)

where the cross-entropy covers only rows with a label; the transfer set also holds recent
unlabelled traffic, which only the teacher labels. The ``T^2`` keeps the gradient scale of
the soft term independent of ``T`` (Hinton et al., 2015). Regressors use mean squared error
to the teacher's value and to the label instead. Validation uses the task loss on labelled
rows only, so early stopping follows real accuracy, not agreement with the teacher.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

PROBA_FLOOR = 1e-8
UNLABELLED = -1


def soft_targets(proba: np.ndarray, temperature: float) -> np.ndarray:
    """Teacher probabilities at temperature ``T``: ``softmax(log(p) / T)``, row-wise."""
    logits = np.log(np.clip(proba.astype(np.float64), PROBA_FLOOR, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    soft: np.ndarray = (out / out.sum(axis=1, keepdims=True)).astype(np.float32)
    return soft


def kd_classification_loss(temperature: float, alpha: float) -> Callable[..., Any]:
    """``loss(student_logits, labels, teacher_soft)``; labels of -1 mark unlabelled rows."""
    import torch.nn.functional as F

    def loss(out: Any, labels: Any, teacher: Any) -> Any:
        log_student = F.log_softmax(out / temperature, dim=1)
        soft = F.kl_div(log_student, teacher, reduction="batchmean") * temperature**2
        labelled = labels != UNLABELLED
        if not bool(labelled.any()):
            return alpha * soft
        hard = F.cross_entropy(out[labelled], labels[labelled])
        return alpha * soft + (1.0 - alpha) * hard

    return loss


def kd_regression_loss(alpha: float) -> Callable[..., Any]:
    """``loss(student, labels, teacher)`` on standardized values; NaN labels mark unlabelled rows."""
    import torch

    def loss(out: Any, labels: Any, teacher: Any) -> Any:
        soft = torch.mean((out - teacher) ** 2)
        labelled = ~torch.isnan(labels)
        if not bool(labelled.any()):
            return alpha * soft
        hard = torch.mean((out[labelled] - labels[labelled]) ** 2)
        return alpha * soft + (1.0 - alpha) * hard

    return loss
