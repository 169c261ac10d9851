"""Post-promotion watch: did live metrics get worse after a promotion? Pure, no I/O.

The daemon collects the previous version's live measurements (``before``) and the promoted
version's (``after``), for example averages over the checks before and after the switch,
and calls :func:`compare_live`. A regression on any watched metric means roll back.

* accuracy: ``accuracy`` when both sides have labels, else ``estimated_accuracy``;
  regressed when it fell by more than ``max_accuracy_drop``;
* latency: ``latency_p95_seconds``; regressed when above ``max_latency_ratio`` times the
  previous value plus ``latency_slack_seconds`` (so microsecond noise cannot trigger it);
* errors: ``error_ratio``; regressed when it rose by more than ``max_error_ratio_increase``.

A metric missing on either side is *unknown*: it neither passes nor fails, and the verdict
says so. Example::

    verdict = compare_live({"accuracy": 0.93}, {"accuracy": 0.80}, WatchPolicy())
    verdict.regressed   # True
    verdict.text()      # "regressed: accuracy 0.8 < 0.91 (0.93 - 0.02) ..."
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


class WatchPolicyError(ValueError):
    """A watch setting with a wrong value; the message names the field and value."""


@dataclass(frozen=True)
class WatchPolicy:
    max_accuracy_drop: float = 0.02
    max_latency_ratio: float = 1.5
    latency_slack_seconds: float = 0.002
    max_error_ratio_increase: float = 0.01

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, where: str = "watch") -> WatchPolicy:
        data = dict(data or {})
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise WatchPolicyError(f"{where}: unknown field(s) {unknown}; expected some of {sorted(names)}")
        for key, value in data.items():
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise WatchPolicyError(f"{where}.{key}: got {value!r}; expected a number >= 0")
        return cls(**{k: float(v) for k, v in data.items()})


@dataclass(frozen=True)
class WatchCheck:
    metric: str
    before: float | None
    after: float | None
    limit: float | None
    ok: bool | None  # None: not measured on one side
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "before": self.before,
            "after": self.after,
            "limit": self.limit,
            "ok": self.ok,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class WatchVerdict:
    regressed: bool
    checks: tuple[WatchCheck, ...]

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(c.detail for c in self.checks if c.ok is False)

    @property
    def unknown(self) -> bool:
        """True when no watched metric could be compared."""
        return all(c.ok is None for c in self.checks)

    def text(self) -> str:
        if self.regressed:
            head = "regressed: " + "; ".join(self.reasons)
        elif self.unknown:
            head = "unknown: no watched metric was measured before and after"
        else:
            head = "no regression"
        others = [c.detail for c in self.checks if c.ok is not False]
        if not others or self.unknown:
            return head
        return f"{head}. {'Other checks' if self.regressed else 'Checks'}: {'; '.join(others)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "regressed": self.regressed,
            "unknown": self.unknown,
            "reasons": list(self.reasons),
            "checks": [c.to_json() for c in self.checks],
            "text": self.text(),
        }


def _value(values: Mapping[str, Any], name: str) -> float | None:
    value = values.get(name)
    if (
        value is None
        or isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
    ):
        return None
    return float(value)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _accuracy(before: Mapping[str, Any], after: Mapping[str, Any], policy: WatchPolicy) -> WatchCheck:
    for name in ("accuracy", "estimated_accuracy"):
        b, a = _value(before, name), _value(after, name)
        if b is not None and a is not None:
            limit = b - policy.max_accuracy_drop
            ok = a >= limit
            sign = ">=" if ok else "<"
            detail = f"{name} {_fmt(a)} {sign} {_fmt(limit)} ({_fmt(b)} - {policy.max_accuracy_drop:g})"
            return WatchCheck(name, b, a, limit, ok, detail)
    return WatchCheck("accuracy", None, None, None, None, "accuracy not measured before and after")


def _upper(
    name: str, before: Mapping[str, Any], after: Mapping[str, Any], limit_of: Any, how: str
) -> WatchCheck:
    b, a = _value(before, name), _value(after, name)
    if b is None or a is None:
        return WatchCheck(name, b, a, None, None, f"{name} not measured before and after")
    limit = limit_of(b)
    ok = a <= limit
    return WatchCheck(
        name,
        b,
        a,
        limit,
        ok,
        f"{name} {_fmt(a)} {'<=' if ok else '>'} {_fmt(limit)} ({how.format(b=_fmt(b))})",
    )


def compare_live(
    before: Mapping[str, Any], after: Mapping[str, Any], policy: WatchPolicy | None = None
) -> WatchVerdict:
    """Compare the promoted version's live metrics (``after``) with the previous version's."""
    policy = policy or WatchPolicy()
    checks = (
        _accuracy(before, after, policy),
        _upper(
            "latency_p95_seconds",
            before,
            after,
            lambda b: b * policy.max_latency_ratio + policy.latency_slack_seconds,
            f"{{b}} x {policy.max_latency_ratio:g} + {policy.latency_slack_seconds:g}s",
        ),
        _upper(
            "error_ratio",
            before,
            after,
            lambda b: b + policy.max_error_ratio_increase,
            f"{{b}} + {policy.max_error_ratio_increase:g}",
        ),
    )
    return WatchVerdict(regressed=any(c.ok is False for c in checks), checks=checks)
