"""Unstructured magnitude pruning: zero the smallest weights across all Linear and Conv layers.

This is what ``torch.nn.utils.prune`` offers. The zeros are kept at zero through
fine-tuning by its masks and then baked into the weights. The exported ONNX graph keeps
every matrix at full size, so on ONNX Runtime's dense kernels the model is sparse but no
faster and no smaller; the prune step measures that instead of assuming a gain.
"""

from __future__ import annotations

from typing import Any

from reoptimize.steps.step import StepError


def _prunable(module: Any) -> list[tuple[Any, str]]:
    import torch

    kinds = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d)
    return [(m, "weight") for m in module.modules() if isinstance(m, kinds)]


def mask_smallest(module: Any, amount: float, where: str = "prune") -> None:
    """Mask the ``amount`` fraction of weights with the smallest magnitude, over all layers at once."""
    from torch.nn.utils import prune

    if not 0.0 < amount < 1.0:
        raise StepError(f"{where}.amount: got {amount!r}; expected a fraction between 0 and 1")
    targets = _prunable(module)
    if not targets:
        raise StepError(f"{where}: {type(module).__name__} has no Linear or Conv layer to prune")
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=amount)


def bake(module: Any) -> None:
    """Make the masks permanent: plain weights with zeros, no pruning hooks left."""
    from torch.nn.utils import prune

    for layer, name in _prunable(module):
        if prune.is_pruned(layer):
            prune.remove(layer, name)  # type: ignore[no-untyped-call]  # torch leaves it unannotated


def sparsity(module: Any) -> float:
    """The fraction of exactly-zero weights over all prunable layers."""
    total = zeros = 0
    for layer, name in _prunable(module):
        weight = getattr(layer, name).detach()
        total += weight.numel()
        zeros += int((weight == 0).sum())
    return zeros / total if total else 0.0
