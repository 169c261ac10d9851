"""A generic multilayer perceptron for tabular features or flattened small images."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def mlp(
    n_features: int, n_outputs: int, hidden: Sequence[int] | int = (128,), dropout: float = 0.0
) -> torch.nn.Sequential:
    """``Linear -> ReLU (-> Dropout)`` per hidden width, then a linear output layer of ``n_outputs``."""
    import torch

    widths = [hidden] if isinstance(hidden, int) else list(hidden)
    if any(not isinstance(w, int) or w < 1 for w in widths):
        raise ValueError(f"hidden {hidden!r}: expected positive integer widths such as [128, 64]")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout {dropout!r}: expected a number in [0, 1)")
    layers: list[torch.nn.Module] = []
    width_in = n_features
    for width in widths:
        layers += [torch.nn.Linear(width_in, width), torch.nn.ReLU()]
        if dropout:
            layers.append(torch.nn.Dropout(dropout))
        width_in = width
    layers.append(torch.nn.Linear(width_in, n_outputs))
    return torch.nn.Sequential(*layers)
