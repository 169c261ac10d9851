"""Recipes: how a model is built, named as ``package.module:function``.

A factory has the signature ``factory(n_features: int, n_outputs: int, **params) -> torch.nn.Module``
and returns a module mapping standardized features ``[N, F]`` to logits ``[N, C]``
(classification) or values ``[N, 1]`` (regression). Standardization, softmax and the
inverse target scaling are added around it at export, so the factory stays plain.

Example::

    factory = load_factory("reoptimize.recipes.mlp:mlp")
    module = factory(64, 10, hidden=(128,))
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reoptimize.tasks.task import TaskError, task_named
from reoptimize.train.settings import TrainingSettings

DEFAULT_FAMILY = "mlp"
_FAMILY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}\Z")


class RecipeError(ValueError):
    """A recipe reference that cannot be resolved or a factory that does not behave."""


def load_factory(reference: str) -> Callable[..., Any]:
    """Resolve ``"package.module:function"`` to the callable it names."""
    if not isinstance(reference, str):
        raise RecipeError(f"recipe factory {reference!r}: expected a string 'package.module:function'")
    module_name, sep, attr = reference.partition(":")
    if not sep or not module_name or not attr.isidentifier():
        raise RecipeError(f"recipe factory {reference!r}: expected 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise RecipeError(f"recipe factory {reference!r}: module {exc.name!r} cannot be found") from None
    except Exception as exc:  # an import can fail in any way inside user code
        raise RecipeError(
            f"recipe factory {reference!r}: importing {module_name} failed ({type(exc).__name__}: {exc})"
        ) from None
    factory: object = getattr(module, attr, None)
    if factory is None:
        raise RecipeError(f"recipe factory {reference!r}: module {module_name} has no attribute {attr!r}")
    if not callable(factory):
        raise RecipeError(
            f"recipe factory {reference!r}: {attr} is a {type(factory).__name__}, not a callable"
        )
    return factory


def factory_name(factory: Callable[..., Any] | str) -> str:
    """The ``module:function`` reference of a factory, for manifests and logs."""
    if isinstance(factory, str):
        return factory
    return f"{getattr(factory, '__module__', '?')}:{getattr(factory, '__qualname__', repr(factory))}"


def build_module(
    factory: Callable[..., Any] | str, n_features: int, n_outputs: int, params: dict[str, Any]
) -> Any:
    """Call the factory and check that it returned a torch module."""
    import torch

    fn = load_factory(factory) if isinstance(factory, str) else factory
    name = factory_name(factory)
    try:
        module = fn(n_features, n_outputs, **params)
    except TypeError as exc:
        raise RecipeError(f"recipe factory {name}: rejected params {sorted(params)} ({exc})") from None
    if not isinstance(module, torch.nn.Module):
        raise RecipeError(
            f"recipe factory {name}: returned {type(module).__name__}; expected a torch.nn.Module"
        )
    return module


@dataclass(frozen=True)
class RecipeSpec:
    """A model's recipe as ``monitor.config.RecipeConfig`` describes it, read from a plain mapping.

    ``task`` and ``family`` are names (see :mod:`reoptimize.tasks` and
    :mod:`reoptimize.families`); ``family`` is the kind of model the factory builds, ``mlp``
    unless the recipe says otherwise. Whether a family of that name exists is checked where
    the family is used (``family_of(recipe)``) and by the config schema.
    """

    factory: str
    params: Mapping[str, Any] = field(default_factory=dict)
    task: str = "classification"
    training: TrainingSettings = field(default_factory=TrainingSettings)
    image_shape: tuple[int, int] | None = None
    family: str = DEFAULT_FAMILY

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "recipe") -> RecipeSpec:
        if not isinstance(data, Mapping):
            raise RecipeError(f"{where}: got {data!r}; expected a mapping with 'factory'")
        unknown = set(data) - {"factory", "params", "task", "training", "image_shape", "family"}
        if unknown:
            raise RecipeError(f"{where}: unknown field(s) {sorted(unknown)}")
        if "factory" not in data:
            raise RecipeError(f"{where}.factory: required field is missing")
        try:
            task = task_named(data.get("task", "classification"), f"{where}.task").name
        except TaskError as exc:
            raise RecipeError(str(exc)) from None
        family = data.get("family", DEFAULT_FAMILY)
        if not isinstance(family, str) or not _FAMILY_NAME.match(family):
            raise RecipeError(f"{where}.family: got {family!r}; expected a model family name such as 'mlp'")
        params = data.get("params") or {}
        if not isinstance(params, Mapping):
            raise RecipeError(f"{where}.params: got {params!r}; expected a mapping")
        shape = data.get("image_shape")
        if shape is not None:
            if len(shape) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in shape):
                raise RecipeError(
                    f"{where}.image_shape: got {shape!r}; expected two positive integers such as [8, 8]"
                )
            shape = (int(shape[0]), int(shape[1]))
        training = TrainingSettings.from_dict(data.get("training"), f"{where}.training")
        return cls(
            factory=data["factory"],
            params=dict(params),
            task=task,
            training=training,
            image_shape=shape,
            family=family,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "factory": self.factory,
            "params": dict(self.params),
            "task": self.task,
            "training": self.training.to_json(),
            "image_shape": list(self.image_shape) if self.image_shape else None,
            "family": self.family,
        }
