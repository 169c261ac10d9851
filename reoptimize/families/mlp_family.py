"""The MLP family: ``nn.Sequential`` of ``Linear -> ReLU (-> Dropout)`` blocks on a float vector.

It is what :func:`reoptimize.recipes.mlp.mlp` builds, for tabular features or flattened small
images. Its structured pruning removes whole hidden neurons: masking weights leaves every
matrix its full size, and ONNX Runtime multiplies the zeros like any other number, whereas
removing a neuron deletes a row of one weight matrix and the matching column of the next, so
each layer becomes a smaller dense ``Linear``: fewer bytes and fewer multiply-adds on any CPU.

A neuron's importance is the L2 norm of its incoming weights times the L2 norm of its
outgoing weights: a unit that receives or passes on little signal matters little, and with
ReLU between layers rescaling one side onto the other leaves the product unchanged.

Its students are narrower or shallower MLPs; its augmentations are the tabular ones (noise,
mixup, SMOTE, gain) and, with a recipe's ``image_shape``, image ones on flattened images.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reoptimize.families.family import ModelFamily, Pruned, StepError, Student
from reoptimize.train.augment import Augmentation, AugmentSpec, augmentations_for_drift, build_augmentations

MLP_FACTORY = "reoptimize.recipes.mlp:mlp"
DEFAULT_STUDENT_WIDTH = 64


@dataclass(frozen=True)
class MlpShape:
    """An ``nn.Sequential`` of ``Linear -> ReLU (-> Dropout)`` blocks and a final ``Linear``."""

    linears: tuple[Any, ...]
    dropout: float

    @property
    def hidden(self) -> list[int]:
        return [int(layer.out_features) for layer in self.linears[:-1]]


def mlp_shape(module: Any, where: str = "prune") -> MlpShape:
    """Read the MLP layout of ``module``; a :class:`StepError` names what does not fit."""
    import torch

    if not isinstance(module, torch.nn.Sequential):
        raise StepError(
            f"{where}: structured pruning needs an nn.Sequential MLP (as {MLP_FACTORY} builds); "
            f"got {type(module).__name__}. Use method: unstructured for other modules"
        )
    linears, dropout, expect_linear = [], 0.0, True
    for i, layer in enumerate(module):
        if isinstance(layer, torch.nn.Linear):
            if not expect_linear:
                raise StepError(f"{where}: layer {i} is a Linear right after a Linear; expected ReLU between")
            linears.append(layer)
            expect_linear = False
        elif isinstance(layer, torch.nn.ReLU) and not expect_linear:
            expect_linear = True
        elif isinstance(layer, torch.nn.Dropout) and expect_linear:
            dropout = float(layer.p)
        else:
            raise StepError(
                f"{where}: layer {i} is {type(layer).__name__}; structured pruning understands "
                "Linear, ReLU and Dropout only. Use method: unstructured for other modules"
            )
    if len(linears) < 2 or expect_linear:
        raise StepError(f"{where}: the MLP needs at least one hidden layer and must end with a Linear")
    return MlpShape(tuple(linears), dropout)


def neuron_importance(incoming: np.ndarray, bias: np.ndarray, outgoing: np.ndarray) -> np.ndarray:
    """Per hidden unit: ``||[W_in[j], b[j]]|| * ||W_out[:, j]||``."""
    fan_in = np.sqrt(np.sum(incoming**2, axis=1) + bias**2)
    fan_out = np.sqrt(np.sum(outgoing**2, axis=0))
    return np.asarray(fan_in * fan_out)


def keep_counts(widths: list[int], amount: float, min_width: int) -> list[int]:
    """How many units each hidden layer keeps when a fraction ``amount`` of them is removed."""
    return [max(min(w, min_width), int(math.ceil(w * (1.0 - amount)))) for w in widths]


def prune_mlp(
    module: Any, amount: float, *, min_width: int = 4, where: str = "prune"
) -> tuple[Any, dict[str, Any]]:
    """A new, smaller MLP without the least important ``amount`` of each hidden layer's units.

    Returns ``(module, info)``; the module is built by :data:`MLP_FACTORY` with the new
    widths, so the registry can rebuild it from its weights. ``info`` has the widths before
    and after and the parameter counts.
    """
    import torch

    from reoptimize.recipes.mlp import mlp

    if not 0.0 < amount < 1.0:
        raise StepError(f"{where}.amount: got {amount!r}; expected a fraction between 0 and 1")
    shape = mlp_shape(module, where)
    weights = [layer.weight.detach().cpu().numpy() for layer in shape.linears]
    biases = [layer.bias.detach().cpu().numpy() for layer in shape.linears]
    kept_counts = keep_counts(shape.hidden, amount, min_width)
    kept: list[np.ndarray] = []
    for i, count in enumerate(kept_counts):
        score = neuron_importance(weights[i], biases[i], weights[i + 1])
        kept.append(np.sort(np.argsort(-score, kind="stable")[:count]))
    n_in, n_out = shape.linears[0].in_features, shape.linears[-1].out_features
    new = mlp(n_in, n_out, hidden=kept_counts, dropout=shape.dropout)
    new_linears = [layer for layer in new if isinstance(layer, torch.nn.Linear)]
    rows_in = np.arange(n_in)
    with torch.no_grad():
        for i, layer in enumerate(new_linears):
            rows = kept[i] if i < len(kept) else np.arange(n_out)
            w = weights[i][np.ix_(rows, rows_in)]
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
            layer.bias.copy_(torch.from_numpy(np.ascontiguousarray(biases[i][rows])))
            rows_in = rows
    new.eval()
    before = sum(p.numel() for p in module.parameters())
    after = sum(p.numel() for p in new.parameters())
    info = {
        "hidden_before": shape.hidden,
        "hidden_after": kept_counts,
        "parameters_before": int(before),
        "parameters_after": int(after),
        "dropout": shape.dropout,
    }
    return new, info


def student_widths(
    teacher_params: Mapping[str, Any] | None,
    width: float,
    depth: int | None,
    default: int = DEFAULT_STUDENT_WIDTH,
) -> list[int]:
    """Hidden widths of the student: ``width`` times the teacher's, with ``depth`` layers.

    A teacher whose widths are unknown (not an MLP recipe) counts as ``[default]``.
    """
    hidden = (teacher_params or {}).get("hidden")
    widths = [hidden] if isinstance(hidden, int) else list(hidden or [default])
    depth = depth or len(widths)
    widths = (widths + [widths[-1]] * depth)[:depth]
    return [max(2, int(round(w * width))) for w in widths]


class MlpFamily:
    """Multilayer perceptrons on a float feature vector; see the module doc."""

    name = "mlp"
    input_kind = "vector"
    torch_weights = True

    def prune_structured(
        self, module: Any, amount: float, *, min_width: int, sample: Any, where: str
    ) -> Pruned | None:
        # Neuron importance reads the weights alone, so the sample rows are not needed.
        pruned, info = prune_mlp(module, amount, min_width=min_width, where=where)
        params = {"hidden": info["hidden_after"], "dropout": info["dropout"]}
        return Pruned(module=pruned, factory=MLP_FACTORY, params=params, info=info)

    def student(self, teacher_params: Mapping[str, Any], settings: Mapping[str, Any]) -> Student | None:
        widths = settings.get("hidden") or student_widths(
            teacher_params, float(settings.get("width", 0.5)), settings.get("depth")
        )
        return Student(
            factory=MLP_FACTORY, params={"hidden": list(widths)}, info={"student_hidden": list(widths)}
        )

    def augmentations(
        self, items: Sequence[Any], image_shape: tuple[int, int] | None
    ) -> tuple[Augmentation, ...]:
        return build_augmentations(items, image_shape)

    def drift_augmentations(
        self, drifted: Sequence[str], image_shape: tuple[int, int] | None, n_features: int
    ) -> tuple[AugmentSpec, ...]:
        return augmentations_for_drift(drifted, image_shape, n_features)


FAMILY: ModelFamily = MlpFamily()
