"""Alert intake: store each alert episode once, then pass it through the rules and the guards.

Alertmanager and Grafana deliver at least once. :meth:`AlertIntake.receive` stores every
alert of a notification in the alert log (durable, unique per episode) before acting, and
acts only on an episode's first ``firing`` notice: ``source: alert`` rules map it to a model
and actions (:meth:`rules.engine.RuleEngine.alert_proposals`), and each proposal goes through
the same guards as a metrics rule's (:meth:`monitor.decide.rule_runner.RuleRunner.submit`).

Acting is at most once per episode: an episode is claimed before it is acted on. When the
store fails before any job was queued, the claim is released and the caller answers 503, so
the sender's retry (or the daemon's next tick, :meth:`drain`) acts on it later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from monitor.alerts.payloads import IncomingAlert, WebhookPayload, starts_at_seconds
from monitor.exporter import DaemonMetrics
from monitor.running_config import RunningConfig
from monitor.state.alerts_repo import StoredAlert
from monitor.state.store import StateStore
from rules.decisions import Decision, alert_decision
from rules.engine import RuleEngine
from rules.proposal import Proposal

log = logging.getLogger("modelhealthd.hooks")
DRAIN_AFTER_SECONDS = 5.0


class TransientError(Exception):
    """The state store could not take the alert now; the sender should retry (503)."""


@dataclass(frozen=True)
class AlertResult:
    """What the intake did with one alert: ``accepted`` (acted on), ``duplicate``, ``resolved``,
    ``unmatched`` (no rule takes it) or ``error``; ``actions`` holds each proposal's guard outcome."""

    fingerprint: str
    status: str
    outcome: str
    actions: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "status": self.status,
            "outcome": self.outcome,
            "actions": list(self.actions),
            "detail": self.detail,
        }


class AlertRules(Protocol):
    """What the intake needs of the rule runner: match alerts to rules, record, and guard proposals."""

    @property
    def engine(self) -> RuleEngine: ...

    def record(self, decision: Decision) -> None: ...

    def submit(
        self, proposal: Proposal, condition_since: float | None = None, extra: Mapping[str, Any] | None = None
    ) -> dict[str, Any]: ...


class AlertIntake:
    """Reads the running config and the rule runner at call time, so that a configuration reload
    applies to the next alert."""

    def __init__(
        self,
        store: StateStore,
        running: RunningConfig,
        rules: AlertRules,
        metrics: DaemonMetrics,
        clock: Callable[[], float],
    ):
        self.store = store
        self.running = running
        self.rules = rules
        self.metrics = metrics
        self.clock = clock
        self.log = store.alerts

    def _transient(self, exc: Exception, doing: str) -> TransientError | None:
        """A TransientError for ``exc`` when the store says it is worth a retry, else None."""
        if not self.store.is_transient(exc):
            return None
        return TransientError(f"the state store {doing}: {self.store.transient_reason(exc)}")

    def receive(self, source: str, payload: WebhookPayload) -> list[AlertResult]:
        results = []
        for alert in payload.alerts:
            result = self._receive_one(source, payload, alert)
            self.metrics.alerts.labels(source, result.outcome).inc()
            results.append(result)
        return results

    def _receive_one(self, source: str, payload: WebhookPayload, alert: IncomingAlert) -> AlertResult:
        fingerprint = alert.key_fingerprint
        stored_payload = {
            **alert.model_dump(mode="json"),
            "groupKey": payload.groupKey,
            "receiver": payload.receiver,
        }
        try:
            seen, stored = self.log.receive(
                source,
                payload.groupKey,
                fingerprint,
                alert.startsAt,
                alert.status,
                stored_payload,
                self.clock(),
            )
        except Exception as exc:
            transient = self._transient(exc, "could not record the alert")
            if transient is None:
                raise
            raise transient from exc
        # A first firing notice, or one a failed delivery left queued. act() claims the episode,
        # so of concurrent deliveries exactly one acts and the others report a duplicate.
        if alert.status == "firing" and (seen == "new" or stored.pending):
            return self.act(stored)
        if seen == "new":
            return AlertResult(
                fingerprint, alert.status, "resolved", detail="resolved before it was seen firing"
            )
        return AlertResult(
            fingerprint, alert.status, "duplicate", detail=f"episode already received ({stored.status})"
        )

    def act(self, stored: StoredAlert) -> AlertResult:
        """Act on a queued episode once: claim it, propose, and mark it done."""
        if not self.log.claim(stored.id):
            return AlertResult(
                stored.fingerprint, stored.status, "duplicate", detail="already being acted on"
            )
        actions: list[dict[str, Any]] = []
        try:
            outcome = self._propose(stored, actions)
        except Exception as exc:
            transient = self._transient(exc, "failed while acting on the alert")
            if transient is not None:
                if any(a.get("queued") for a in actions):
                    self.log.done(stored.id)
                else:
                    self.log.release(stored.id)
                raise transient from exc
            log.exception("alert %s could not be acted on", stored.fingerprint)
            self.log.done(stored.id)
            return AlertResult(
                stored.fingerprint, stored.status, "error", tuple(actions), f"{type(exc).__name__}: {exc}"
            )
        self.log.done(stored.id)
        return AlertResult(stored.fingerprint, stored.status, outcome, tuple(actions))

    def _propose(self, stored: StoredAlert, actions: list[dict[str, Any]]) -> str:
        runner = self.rules
        labels = {str(k): str(v) for k, v in stored.payload.get("labels", {}).items()}
        model_labels = {m.name: dict(m.labels) for m in self.running.config.models}
        now = self.clock()
        name = labels.get("alertname", "(unnamed)")
        matches = runner.engine.match_alert(labels, model_labels)
        if not matches:
            model = labels.get("model")
            self.store.decisions.append(
                now,
                "alert",
                f"alert {name} from {stored.source} matched no 'source: alert' rule for a known model; nothing to do",
                model=model if model in model_labels else None,
                data={"alert_labels": labels, "source": stored.source, "fingerprint": stored.fingerprint},
            )
            self.metrics.decisions.labels("alert").inc()
            return "unmatched"
        for rule, model in matches:
            runner.record(alert_decision(rule, model, labels, now))
            log.info(
                "alert %s for %s taken by rule %s",
                name,
                model,
                rule.name,
                extra={"model": model, "rule": rule.name},
            )
        extra = {
            "alert": {
                "source": stored.source,
                "alertname": name,
                "fingerprint": stored.fingerprint,
                "starts_at": stored.starts_at,
                "group_key": stored.group_key,
            },
            "labels": labels,
        }
        since = starts_at_seconds(stored.starts_at)
        for proposal in runner.engine.alert_proposals(labels, now, model_labels):
            drifted = {"drifted_features": self._drifted_features(proposal.model)}
            result = runner.submit(proposal, condition_since=since, extra={**extra, **drifted})
            actions.append(
                {
                    "rule": proposal.rule,
                    "model": proposal.model,
                    "pipeline": proposal.action.pipeline,
                    **result,
                }
            )
        return "accepted"

    def _drifted_features(self, model: str) -> list[str]:
        """The features the model's latest check found drifted (a retrain's ``augment: auto`` uses them)."""
        latest = self.store.checks.latest(model)
        features = (latest.details or {}).get("features", []) if latest else []
        return [f["feature"] for f in features if isinstance(f, dict) and f.get("drifted")]

    def drain(self) -> int:
        """Act on episodes a failed delivery left queued; returns how many were acted on."""
        cutoff = self.clock() - DRAIN_AFTER_SECONDS
        acted = 0
        try:
            queued = self.log.queued()
        except Exception as exc:
            if not self.store.is_transient(exc):
                raise
            log.warning("could not read queued alerts: %s", self.store.transient_reason(exc))
            return 0
        for stored in queued:
            if stored.received_at > cutoff:
                continue  # its own request is probably acting on it right now
            try:
                result = self.act(stored)
            except TransientError as exc:
                log.warning("queued alert %s: %s", stored.fingerprint, exc)
                return acted
            acted += result.outcome != "duplicate"
        return acted
