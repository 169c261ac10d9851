"""Training settings: a frozen mirror of ``TrainingConfig`` that reoptimize reads from plain mappings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, TypedDict

from reoptimize.train.augment import AugmentSpec


class SettingsError(ValueError):
    """A training setting with a wrong value; the message names the field, value and expectation."""


def check_number(
    where: str,
    value: Any,
    *,
    integer: bool = False,
    low: float | None = None,
    strict_low: bool = False,
    high: float | None = None,
) -> Any:
    """``value`` if it is a number in range, else a :class:`SettingsError` naming ``where`` (high is exclusive)."""
    ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok_type:
        raise SettingsError(f"{where}: got {value!r}; expected {'an integer' if integer else 'a number'}")
    if low is not None and (value <= low if strict_low else value < low):
        raise SettingsError(f"{where}: got {value!r}; expected a value {'>' if strict_low else '>='} {low}")
    if high is not None and value >= high:
        raise SettingsError(f"{where}: got {value!r}; expected a value < {high}")
    return value


class _Range(TypedDict, total=False):
    """The keyword arguments of :func:`check_number` that state a field's range."""

    integer: bool
    low: float
    strict_low: bool
    high: float


@dataclass(frozen=True)
class TrainingSettings:
    """How to train: the same fields and defaults as ``monitor.config.TrainingConfig``."""

    max_epochs: int = 60
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 6
    clip_grad_norm: float | None = 1.0
    validation_fraction: float = 0.15
    augment: tuple[AugmentSpec, ...] = ()
    seed: int = 0

    @classmethod
    def field_names(cls) -> frozenset[str]:
        return frozenset(f.name for f in fields(cls))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, where: str = "training") -> TrainingSettings:
        """Read a mapping, checking every value; unknown keys are an error."""
        data = dict(data or {})
        unknown = set(data) - cls.field_names()
        if unknown:
            raise SettingsError(
                f"{where}: unknown field(s) {sorted(unknown)}; expected {sorted(cls.field_names())}"
            )
        return cls().with_overrides(data, where)

    def with_overrides(self, overrides: Mapping[str, Any], where: str = "training") -> TrainingSettings:
        """A copy with the training fields of ``overrides`` applied; other keys are ignored."""
        values = {k: v for k, v in overrides.items() if k in self.field_names()}
        checks: dict[str, _Range] = {
            "max_epochs": _Range(integer=True, low=1),
            "batch_size": _Range(integer=True, low=1),
            "patience": _Range(integer=True, low=1),
            "seed": _Range(integer=True),
            "learning_rate": _Range(low=0, strict_low=True),
            "weight_decay": _Range(low=0),
            "validation_fraction": _Range(low=0, strict_low=True, high=0.5),
        }
        for name, rule in checks.items():
            if name in values:
                check_number(f"{where}.{name}", values[name], **rule)
        if values.get("clip_grad_norm") is not None:
            check_number(f"{where}.clip_grad_norm", values["clip_grad_norm"], low=0, strict_low=True)
        if "augment" in values:
            items = values["augment"] or ()
            if isinstance(items, str | Mapping):
                items = (items,)
            values["augment"] = tuple(
                AugmentSpec.parse(item, f"{where}.augment[{i}]") for i, item in enumerate(items)
            )
        return replace(self, **values)

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["augment"] = [a.to_json() for a in self.augment]
        return out
