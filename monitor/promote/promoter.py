"""Promotion and rollback: intent in the state store, atomic pointer switch, done, reload hook.

The order makes every crash recoverable: a version directory is complete before an intent
exists; an intent exists before the pointer moves; at start :meth:`Promoter.reconcile`
marks an intent done if the pointer moved, and aborts it if it did not. An intent and its
decision-log entry are finished in one transaction, so the log never misses a promotion nor
records one twice. A promotion whose reload hook was never called (a crash right after it was
marked done) is reloaded at the next start or check.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from monitor.config import Config, ModelConfig
from monitor.exporter import DaemonMetrics
from monitor.running_config import RunningConfig
from monitor.state.records import PromotionRecord
from monitor.state.store import StateStore
from reoptimize import failpoints
from reoptimize.registry.registry import Registry
from reoptimize.registry.registry_errors import RegistryError

log = logging.getLogger("modelhealthd.promotion")


class PromotionError(Exception):
    """A promotion or rollback that cannot be done; the message says why.

    ``logged`` is true when the refusal is already in the decision log (an aborted intent).
    """

    def __init__(self, message: str, logged: bool = False):
        super().__init__(message)
        self.logged = logged


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    status: int | None
    version: str | None
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "status": self.status, "version": self.version, "error": self.error}


def call_reload(model: ModelConfig, session: requests.Session) -> ReloadResult:
    headers = {}
    token = model.server.resolved_token()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = session.post(
            model.server.reload_url, headers=headers, timeout=max(model.server.timeout, 30.0)
        )
    except requests.RequestException as exc:
        return ReloadResult(False, None, None, f"reload hook {model.server.reload_url} unreachable: {exc}")
    try:
        body = response.json()
    except ValueError:
        body = {}
    version = body.get("version") if isinstance(body, dict) else None
    if response.status_code >= 300:
        reason = body.get("detail") if isinstance(body, dict) else None
        return ReloadResult(
            False, response.status_code, version, f"reload hook answered {response.status_code}: {reason}"
        )
    return ReloadResult(True, response.status_code, None if version is None else str(version), None)


class Promoter:
    def __init__(
        self,
        running: RunningConfig,
        registry: Registry,
        store: StateStore,
        metrics: DaemonMetrics | None,
        clock: Callable[[], float],
        session: requests.Session | None = None,
    ):
        self.running = running
        self.registry = registry
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.session = session or requests.Session()
        # One promotion, rollback or reload retry at a time within this process.
        self.lock = threading.RLock()

    @property
    def config(self) -> Config:
        """The running config: a SIGHUP reload swaps it and this reads the new one."""
        return self.running.config

    def _pointer(self, model: str) -> str | None:
        """The production pointer, or None when it is missing or unreadable."""
        try:
            return self.registry.production(model)
        except (OSError, RegistryError) as exc:
            log.warning("%s: unreadable production pointer (%s)", model, exc, extra={"model": model})
            return None

    def promote(
        self,
        model: str,
        version: str,
        *,
        reason: str,
        job_id: str | None = None,
        kind: str = "promote",
        details: Mapping[str, Any] | None = None,
    ) -> PromotionRecord:
        """Make ``version`` production; ``details`` go into the decision log with the numbers."""
        with self.lock:
            return self._promote(model, version, reason, job_id, kind, details)

    def _promote(
        self,
        model: str,
        version: str,
        reason: str,
        job_id: str | None,
        kind: str,
        details: Mapping[str, Any] | None,
    ) -> PromotionRecord:
        current = self._pointer(model)  # a broken pointer is repaired by promoting a good version
        if current == version:
            raise PromotionError(f"{model} v{version} is already production")
        try:
            self.registry.verify(model, version)
        except RegistryError as exc:
            raise PromotionError(f"{model} v{version} cannot be promoted: {exc}") from None
        now = self.clock()
        pid = self.store.promotions.record_intent(model, current, version, kind, reason, now, job_id)
        failpoints.hit("promotion.intent_recorded")
        decision_kind = "promotion" if kind == "promote" else "rollback"
        try:
            self.registry.set_production(model, version)
        except (OSError, RegistryError) as exc:
            # The rename may have happened before the error (an fsync of the directory failed):
            # the pointer, not the exception, says whether production moved.
            if self._pointer(model) != version:
                message = f"{model}: switching production to v{version} failed: {exc}"
                self.store.promotions.finish(
                    pid,
                    "aborted",
                    self.clock(),
                    decision={"kind": decision_kind, "message": message, "model": model, "job_id": job_id},
                )
                raise PromotionError(message, logged=True) from None
        failpoints.hit("promotion.pointer_switched")
        verb = "promoted" if kind == "promote" else "rolled back to"
        self.store.promotions.finish(
            pid,
            "done",
            self.clock(),
            decision={
                "kind": decision_kind,
                "message": f"{model}: {verb} v{version} (was v{current}): {reason}",
                "model": model,
                "job_id": job_id,
                "data": {"from_version": current, "to_version": version, **(details or {})},
            },
        )
        failpoints.hit("promotion.marked_done")
        log.info(
            "%s v%s is production (was v%s)", model, version, current, extra={"model": model, "job": job_id}
        )
        if self.metrics:
            self.metrics.promotions.labels(model, kind).inc()
            self.metrics.last_promotion.labels(model, kind).set(self.clock())
            self.metrics.set_version(model, version)
        self.reload(model, pid)
        failpoints.hit("promotion.reload_called")
        return self._get(model, pid)

    def rollback(
        self, model: str, *, reason: str, details: Mapping[str, Any] | None = None
    ) -> PromotionRecord | None:
        """Go back to the version before the last promotion; ``None`` when there is nothing to undo."""
        with self.lock:
            return self._rollback(model, reason, details)

    def _rollback(self, model: str, reason: str, details: Mapping[str, Any] | None) -> PromotionRecord | None:
        last = self.store.promotions.last_done(model)
        current = self._pointer(model)
        if last is None or last.kind == "rollback" or last.to_version != current or last.from_version is None:
            self.store.decisions.append(
                self.clock(),
                "rollback",
                f"{model}: nothing to roll back (production v{current})",
                model=model,
            )
            return None
        return self._promote(model, last.from_version, reason, last.job_id, "rollback", details)

    def reload(self, model: str, promotion_id: int) -> ReloadResult:
        try:
            model_cfg = self.config.model(model)
        except KeyError:
            result = ReloadResult(False, None, None, f"{model} is not in the config; no server to reload")
        else:
            result = call_reload(model_cfg, self.session)
        self.store.promotions.set_reload(promotion_id, result.to_json())
        if not result.ok:
            log.warning("reload of %s failed: %s", model, result.error, extra={"model": model})
            self.store.decisions.append(self.clock(), "promotion", f"{model}: {result.error}", model=model)
        return result

    def retry_reload(self, model: str) -> None:
        """Call the reload hook again when the last promotion's reload failed or never ran."""
        if not self.lock.acquire(blocking=False):
            return  # a promotion is under way; it calls the hook itself
        try:
            last = self.store.promotions.last_done(model)
            if last is None or (last.reload is not None and last.reload.get("ok")):
                return
            if self._pointer(model) == last.to_version:
                self.reload(model, last.id)
        finally:
            self.lock.release()

    def reconcile(self) -> list[str]:
        """Finish or abort promotion intents left by a crash; returns what was done.

        Each intent's outcome and its decision-log entry are written together. Afterwards any
        promotion whose reload hook never ran is reloaded, and staging leftovers are removed.
        """
        done = []
        with self.lock:
            for intent in self.store.promotions.pending_intents():
                pointer = self._pointer(intent.model)
                completed = pointer == intent.to_version
                if completed:
                    msg = f"{intent.model}: completed promotion of v{intent.to_version} left unfinished by a restart"
                else:
                    msg = f"{intent.model}: aborted promotion of v{intent.to_version}; production stays v{pointer}"
                decision = {
                    "kind": "promotion" if intent.kind == "promote" else "rollback",
                    "message": msg,
                    "model": intent.model,
                    "job_id": intent.job_id,
                    "data": {
                        "from_version": intent.from_version,
                        "to_version": intent.to_version,
                        "reconciled": True,
                    },
                }
                self.store.promotions.finish(
                    intent.id, "done" if completed else "aborted", self.clock(), decision=decision
                )
                log.info(msg, extra={"model": intent.model, "job": intent.job_id, "event": "reconcile"})
                done.append(msg)
            for model in self.registry.models():
                self.registry.recover(model)
                self.retry_reload(model)
        return done

    def _get(self, model: str, promotion_id: int) -> PromotionRecord:
        for record in self.store.promotions.list(model, limit=20):
            if record.id == promotion_id:
                return record
        raise PromotionError(f"promotion {promotion_id} of {model} vanished from the state store")
