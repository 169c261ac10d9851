"""The post-promotion watch: roll back automatically when the promoted version does worse live.

After a promotion, every check of the model compares the new version's live measurements
with the previous version's as it was doing in its last check window before the switch. A
metric is compared once ``watch.min_checks`` checks of the new version measured it; latency
and error ratio count only from windows that began after the switch. The comparison is ``reoptimize.gate.live_regression.compare_live``.
A regression rolls back through the Promoter and is written to the decision log; a watch
that ends quietly is written there too. While a watch runs, guards inhibit new jobs.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from monitor.config import Config, ModelConfig
from monitor.measurements import Measurements
from monitor.promote.promoter import Promoter, PromotionError
from monitor.running_config import RunningConfig
from monitor.state.records import CheckRecord, PromotionRecord
from monitor.state.store import StateStore
from reoptimize.gate.live_regression import WatchPolicy, compare_live

log = logging.getLogger("modelhealthd.watch")
# Accuracy is measured per version (on the rows each version answered), so every check after
# the switch counts. Serving metrics cover the whole check window, so only windows that began
# after the switch describe the new version alone.
PER_VERSION = ("accuracy", "estimated_accuracy")
PER_WINDOW = ("latency_p95_seconds", "error_ratio")


def mean_values(checks: Iterable[CheckRecord], names: Iterable[str], min_count: int = 1) -> dict[str, float]:
    """Per measurement, the mean over the checks that measured it (left out below ``min_count``)."""
    seen: dict[str, list[float]] = {}
    for check in checks:
        for name in names:
            value = check.measurements.get(name)
            if value is not None and math.isfinite(value):
                seen.setdefault(name, []).append(value)
    return {name: sum(v) / len(v) for name, v in seen.items() if len(v) >= min_count}


def policy_of(model: ModelConfig) -> WatchPolicy:
    w = model.watch
    return WatchPolicy(
        max_accuracy_drop=w.max_accuracy_drop,
        max_latency_ratio=w.max_latency_ratio,
        latency_slack_seconds=w.latency_slack_seconds,
        max_error_ratio_increase=w.max_error_ratio_increase,
    )


class PromotionWatch:
    def __init__(
        self, running: RunningConfig, store: StateStore, promoter: Promoter, clock: Callable[[], float]
    ):
        self.running = running
        self.store = store
        self.promoter = promoter
        self.clock = clock
        self.concluded: set[int] = set()  # promotions whose watch has ended (passed or rolled back)
        self.lock = threading.Lock()

    @property
    def config(self) -> Config:
        """The running config: a SIGHUP reload swaps it and this reads the new one."""
        return self.running.config

    def _open(self, model: ModelConfig) -> PromotionRecord | None:
        last = self.store.promotions.last_done(model.name)
        if last is None or last.kind != "promote" or last.id in self.concluded or last.finished_at is None:
            return None
        if self.clock() - last.finished_at > model.watch.period:
            return None
        return last

    def watching(self, model: str) -> bool:
        """Whether a watch runs for ``model`` (the guards' inhibition asks this)."""
        try:
            return self._open(self.config.model(model)) is not None
        except KeyError:
            return False

    def after_check(self, model: ModelConfig, m: Measurements) -> None:
        with self.lock:
            promotion = self.store.promotions.last_done(model.name)
            if promotion is None or promotion.kind != "promote" or promotion.id in self.concluded:
                return
            if promotion.finished_at is None or m.at < promotion.finished_at:
                return
            before, after, n_after = self._windows(model, promotion)
            verdict = compare_live(before, after, policy_of(model))
            if verdict.regressed:
                self.concluded.add(promotion.id)
                self._roll_back(model, promotion, verdict.text(), verdict.to_json())
                return
            if m.at - promotion.finished_at >= model.watch.period:
                self.concluded.add(promotion.id)
                self.store.decisions.append(
                    self.clock(),
                    "promotion",
                    f"{model.name}: post-promotion watch of v{promotion.to_version} ended after "
                    f"{n_after} check(s): {verdict.text()}",
                    model=model.name,
                    job_id=promotion.job_id,
                    data={
                        "promotion_id": promotion.id,
                        "watch": verdict.to_json(),
                        "before": before,
                        "after": after,
                    },
                )

    def _windows(
        self, model: ModelConfig, promotion: PromotionRecord
    ) -> tuple[Mapping[str, float], Mapping[str, float], int]:
        # The previous version is judged as it was doing when it was replaced: its checks in the
        # last check window before the switch (at least its last check), not its better days.
        switched = promotion.finished_at
        if switched is None:  # after_check watches only finished promotions
            raise ValueError(
                f"promotion {promotion.id} of {model.name} has not finished; nothing to watch yet"
            )
        window = model.check.window
        since = promotion.created_at - max(model.watch.period, window)
        checks = self.store.checks.list(model.name, limit=10_000, since=since)
        old = [c for c in checks if c.version == promotion.from_version and c.at <= promotion.created_at]
        recent = [c for c in old if c.at >= promotion.created_at - window] or sorted(old, key=lambda c: c.at)[
            -1:
        ]
        before = mean_values(recent, (*PER_VERSION, *PER_WINDOW))
        new = [c for c in checks if c.version == promotion.to_version and c.at >= switched]
        settled = [c for c in new if c.at >= switched + window]
        need = model.watch.min_checks
        after = mean_values(new, PER_VERSION, need) | mean_values(settled, PER_WINDOW, need)
        if "accuracy" in before and "accuracy" not in after:
            # Labels exist for this model but have not reached the new version yet: wait for them
            # rather than judge it on an estimate the old version's labelled figure would beat.
            before.pop("estimated_accuracy", None)
            after.pop("estimated_accuracy", None)
        return before, after, len(new)

    def _roll_back(
        self, model: ModelConfig, promotion: PromotionRecord, text: str, data: Mapping[str, Any]
    ) -> None:
        reason = f"post-promotion watch: v{promotion.to_version} {text}"
        log.warning(reason, extra={"model": model.name, "job": promotion.job_id})
        try:
            self.promoter.rollback(model.name, reason=reason, details={"watch": dict(data)})
        except PromotionError as exc:
            self.store.decisions.append(
                self.clock(), "rollback", f"{model.name}: automatic rollback failed: {exc}", model=model.name
            )
