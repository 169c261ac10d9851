"""The ``ModelFamily`` protocol: the kind of model a recipe builds, and what the steps may do with it.

A recipe declares its family (``RecipeSpec.family``, ``mlp`` by default); the steps ask the
family instead of assuming a multilayer perceptron:

* ``input_kind``: what one row is. ``vector`` is float32 ``[N, F]`` in the manifest's
  feature order, the only kind jobs read today; ``image`` (``[N, C, H, W]``) and ``tokens``
  (token ids) are the next ones.
* ``torch_weights``: whether the family's models are torch modules saved as safetensors.
  Steps that train or rebuild torch modules refuse a family without them (see each step's
  ``needs``), so nothing in a job imports torch for such a family.
* :meth:`ModelFamily.prune_structured`: remove whole units so that the exported graph shrinks,
  or ``None`` when the family has no structured pruning.
* :meth:`ModelFamily.student`: the smaller model a teacher is distilled into, or ``None``.
* :meth:`ModelFamily.augmentations` and :meth:`ModelFamily.drift_augmentations`: which
  augmentations fit the family's inputs, and which to pick for the drift seen.

A step that finds the family cannot do something raises :class:`StepError` naming the family
and what it lacks. Family ``x`` lives in ``reoptimize/families/x_family.py`` as its
``FAMILY``, so a family is added as one file:

* a CNN family (``cnn_family.py``): ``input_kind = "image"``; ``prune_structured`` prunes
  conv channels with Torch-Pruning's dependency graph, traced on ``sample``, and returns the
  channel counts per layer as the factory's ``params`` (the pruned module is rebuilt from them,
  never pickled); ``student`` is a narrower CNN; ``augmentations`` are image operations on
  ``[N, C, H, W]``.
* a tree family (``trees_family.py``, gradient-boosted trees): ``torch_weights = False``;
  ``prune_structured`` keeps fewer boosting rounds of the booster it is given; ``student`` is a
  shallower ensemble or ``None``; ``augmentations`` are the tabular ones. The torch steps
  refuse it through their ``needs``, while quantize (ONNX only) still runs.

This module imports nothing heavy; a family imports torch inside the methods that use it.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from reoptimize.train.augment import Augmentation, AugmentSpec
from reoptimize.train.recipe import RecipeSpec

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}\Z")
SUFFIX = "_family"


class StepError(ValueError):
    """A step that cannot run on this model or with these parameters; the message says why.

    It is defined here, below the steps, because a family is often what knows why (a module
    that is not of its shape, a capability it lacks); :mod:`reoptimize.steps.step` re-exports it.
    """


class FamilyError(ValueError):
    """A family name that names no family; the message names the field, the value and the families."""


@dataclass(frozen=True)
class Pruned:
    """A structurally pruned model, rebuildable as ``factory(n_features, n_outputs, **params)``."""

    module: Any
    factory: str
    params: Mapping[str, Any]
    info: Mapping[str, Any] = field(default_factory=dict)  # shapes before and after, parameter counts


@dataclass(frozen=True)
class Student:
    """The model a teacher is distilled into: ``factory(n_features, n_outputs, **params)``."""

    factory: str
    params: Mapping[str, Any]
    info: Mapping[str, Any] = field(default_factory=dict)  # its shape, for the step's record


@runtime_checkable
class ModelFamily(Protocol):
    """A kind of model: its inputs, its weights, and what pruning, distillation and augmentation
    mean for it. See the module doc for how each part is used and how new families fit."""

    name: str
    input_kind: str  # "vector" today; "image", "tokens" next
    torch_weights: bool

    def prune_structured(
        self, module: Any, amount: float, *, min_width: int, sample: Any, where: str
    ) -> Pruned | None:
        """A smaller model without the least important ``amount`` of its units, or None when the
        family has no structured pruning. ``sample`` holds a few standardized input rows (a torch
        tensor) for pruners that trace the model; raises :class:`StepError` for a model that is
        not of the family's shape."""
        ...

    def student(self, teacher_params: Mapping[str, Any], settings: Mapping[str, Any]) -> Student | None:
        """The student for a teacher built with ``teacher_params``, shaped by the distill step's
        ``settings`` (``hidden``, ``width``, ``depth``), or None when the family has no student."""
        ...

    def augmentations(
        self, items: Sequence[Any], image_shape: tuple[int, int] | None
    ) -> tuple[Augmentation, ...]:
        """The training augmentations ``items`` name, built for this family's inputs."""
        ...

    def drift_augmentations(
        self, drifted: Sequence[str], image_shape: tuple[int, int] | None, n_features: int
    ) -> tuple[AugmentSpec, ...]:
        """The augmentations to train with for a drift of the ``drifted`` features."""
        ...


def family_names() -> tuple[str, ...]:
    """The names of every family, one per ``*_family.py`` module in this folder."""
    folder = Path(__file__).parent
    return tuple(sorted(p.stem.removesuffix(SUFFIX) for p in folder.glob(f"*{SUFFIX}.py")))


@cache
def _load(name: str) -> ModelFamily:
    family = importlib.import_module(f"reoptimize.families.{name}{SUFFIX}").FAMILY
    if not isinstance(family, ModelFamily) or family.name != name:
        raise FamilyError(
            f"reoptimize/families/{name}{SUFFIX}.py: FAMILY is not a ModelFamily named {name!r}"
        )
    return family


def family_named(name: str, where: str = "family") -> ModelFamily:
    """The family called ``name``; :class:`FamilyError` names ``where``, the value and the families."""
    known = family_names()
    if not isinstance(name, str) or not _NAME.match(name) or name not in known:
        raise FamilyError(f"{where}: got {name!r}; expected one of {', '.join(known)}")
    return _load(name)


def family_of(recipe: RecipeSpec, where: str = "recipe.family") -> ModelFamily:
    """The family the recipe's factory builds."""
    return family_named(recipe.family, where)
