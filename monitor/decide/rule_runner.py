"""Rules after every check: evaluate, persist states, guard each proposal, queue jobs, log decisions."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from monitor.config import Config, ModelConfig
from monitor.decide.guard_context import StoreGuardContext
from monitor.exporter import DaemonMetrics
from monitor.measurements import Measurements
from monitor.running_config import RunningConfig
from monitor.state.store import StateStore
from reoptimize.registry.registry import Registry
from rules.decisions import Decision, breaker_reset_decision, guard_decision
from rules.engine import RuleEngine
from rules.guards import CircuitBreakerGuard, Guard, GuardSettings, default_guards, run_guards
from rules.loader import RuleError, RuleSet, load_rule_files, parse_rules
from rules.proposal import Proposal
from rules.rule_schema import Action
from rules.state_machine import RuleState

log = logging.getLogger("modelhealthd.rules")


class RulesLoadError(Exception):
    """The rule files cannot be used; the daemon does not start with them."""


def load_ruleset(config: Config) -> RuleSet:
    """The config's rule files, or the packaged default rules when it names none; their actions'
    pipelines are checked against reoptimize's steps."""
    from reoptimize.steps.catalog import CATALOG

    try:
        if config.rules:
            return load_rule_files(config.rules, catalog=CATALOG)
        text = resources.files("rules").joinpath("default_rules.yaml").read_text()
        return parse_rules(text, "rules/default_rules.yaml", catalog=CATALOG)
    except RuleError as exc:
        raise RulesLoadError(str(exc)) from None


def guard_settings(config: Config) -> GuardSettings:
    """The guard limits of the config's ``guards:`` section."""
    g = config.guards
    return GuardSettings(
        concurrency=g.concurrency or config.jobs.concurrency,
        daily_budget=g.daily_budget,
        budget_window_s=g.budget_window,
        blast_radius=g.blast_radius,
        blast_radius_window_s=g.blast_radius_window,
        breaker_threshold=g.breaker_threshold,
        breaker_reset_s=g.breaker_half_open_after,
        default_cooldown_s=g.default_cooldown,
    )


@dataclass(frozen=True)
class _Derived:
    """What the runner builds from one running config: the rule engine and the guard pipeline."""

    generation: int
    engine: RuleEngine
    guards: tuple[Guard, ...]
    breaker: CircuitBreakerGuard


class RuleRunner:
    """Rules after every check, and the one path by which any proposal (a rule's, an alert's or a
    person's trigger) passes the guards and becomes a job.

    It reads the rules and guard limits of the running config: after a SIGHUP reload the next
    check, alert or trigger uses the new ones (the engine and guards are rebuilt once per reload).
    """

    def __init__(
        self,
        running: RunningConfig,
        store: StateStore,
        registry: Registry,
        metrics: DaemonMetrics,
        clock: Callable[[], float],
        watching: Callable[[str], bool] = lambda _model: False,
    ):
        self.running = running
        self.store = store
        self.registry = registry
        self.metrics = metrics
        self.clock = clock
        self.context = StoreGuardContext(store, watching)
        self._derived: _Derived | None = None
        self._derive_lock = threading.Lock()
        self.lock = threading.Lock()  # guards read then write jobs: one proposal at a time

    @property
    def config(self) -> Config:
        return self.running.config

    def _current(self) -> _Derived:
        config, ruleset, generation = self.running.snapshot()
        with self._derive_lock:
            if self._derived is None or self._derived.generation != generation:
                guards = default_guards(guard_settings(config))
                breaker = next(g for g in guards if isinstance(g, CircuitBreakerGuard))
                self._derived = _Derived(generation, RuleEngine(ruleset), guards, breaker)
            return self._derived

    @property
    def engine(self) -> RuleEngine:
        return self._current().engine

    @property
    def guards(self) -> tuple[Guard, ...]:
        return self._current().guards

    @property
    def breaker(self) -> CircuitBreakerGuard:
        return self._current().breaker

    def _states(self, model: str) -> dict[str, RuleState]:
        states = {}
        for (rule, _), raw in self.store.rule_states.load(model).items():
            try:
                states[rule] = RuleState.from_json(raw)
            except ValueError as exc:
                log.warning(
                    "ignoring stored state of rule %s: %s", rule, exc, extra={"model": model, "rule": rule}
                )
        return states

    def watch_with(self, watching: Callable[[str], bool]) -> None:
        """Inhibit jobs for a model while ``watching(model)`` is true (a post-promotion watch)."""
        self.context = StoreGuardContext(self.store, watching)

    def breaker_open(self, model: str, now: float | None = None) -> bool:
        return self.breaker.is_open(model, self.context, self.clock() if now is None else now)

    def refresh_breaker(self, model: str, now: float | None = None) -> bool:
        """Export whether the model's circuit breaker is open now; returns it."""
        is_open = self.breaker_open(model, now)
        self.metrics.set_circuit(model, is_open)
        return is_open

    def reset_breaker(self, model: str, by: str, reason: str) -> Decision:
        """A person closes the model's circuit breaker; the reset is recorded in the decision log."""
        with self.lock:
            now = self.clock()
            failures = self.context.consecutive_failures(model)
            decision = breaker_reset_decision(model, now, by, reason, failures)
            self.record(decision)
            self.refresh_breaker(model, now)
        log.info(decision.message, extra={"model": model})
        return decision

    def after_check(self, model: ModelConfig, m: Measurements) -> None:
        self.refresh_breaker(model.name, m.at)
        evaluation = self.engine.evaluate(model.name, model.labels, m.values, self._states(model.name), m.at)
        self.store.rule_states.save(model.name, {r: s.to_json() for r, s in evaluation.states.items()}, m.at)
        self.metrics.set_rule_states(model.name, {r: s.state for r, s in evaluation.states.items()})
        for decision in evaluation.decisions:
            self.record(decision)
            log.info(decision.message, extra={"model": model.name, "rule": decision.rule})
        states = evaluation.states
        # The features this check found drifted: a retrain with `augment: auto` matches them.
        drifted = {"drifted_features": [f.feature for f in m.features if f.drifted]}
        for proposal in evaluation.proposals:
            self.submit(proposal, condition_since=states[proposal.rule].active_since, extra=drifted)

    def submit(
        self,
        proposal: Proposal,
        condition_since: float | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Pass a proposal through the guards and queue its job when they allow it.

        ``condition_since`` is when the rule's condition became true; the job uses the traffic
        since then as the new version's reference. ``extra`` is added to the job's trigger
        (an incoming alert's identity and labels). In dry-run mode nothing is queued and the
        guard decision says what would have run.
        """
        with self.lock:
            outcome = run_guards(proposal, self.guards, self.context, proposal.at)
            dry_run = self.config.dry_run
            self.record(guard_decision(outcome, dry_run))
            model = proposal.model
            if proposal.starts_job:
                self.refresh_breaker(model, proposal.at)
            if not outcome.allowed or dry_run or not proposal.starts_job:
                refused = outcome.refused_by
                return {
                    "queued": False,
                    "dry_run": dry_run,
                    "would_run": dry_run and outcome.allowed and proposal.starts_job,
                    "reason": refused.reason if refused else None,
                }
            job = self.store.jobs.create(
                model,
                proposal.action.pipeline,
                proposal.action.params,
                {
                    "rule": proposal.rule,
                    "source": proposal.source,
                    "inputs": dict(proposal.inputs),
                    "at": proposal.at,
                    "condition_since": condition_since,
                    **dict(extra or {}),
                },
                now=self.clock(),
                rule=proposal.rule,
                champion_version=self.registry.production(model),
            )
        self.store.decisions.append(
            self.clock(),
            "action",
            f"queued job {job.id}: {job.pipeline} for {model} (rule {proposal.rule})",
            model=model,
            rule=proposal.rule,
            job_id=job.id,
            data={"params": dict(job.params), "trigger": dict(job.trigger)},
        )
        log.info(
            "queued job %s (%s)",
            job.id,
            job.pipeline,
            extra={"model": model, "rule": proposal.rule, "job": job.id},
        )
        return {"queued": True, "job": job.id}

    def manual(
        self, model: ModelConfig, pipeline: str, params: dict[str, Any], reason: str
    ) -> dict[str, Any]:
        action = Action.model_validate({"pipeline": pipeline, "with": params})
        proposal = Proposal(
            rule="manual", model=model.name, action=action, severity="info", at=self.clock(), source="alert",
            labels={"reason": reason}, cooldown_s=0.0,
        )  # fmt: skip
        return self.submit(proposal)

    def record(self, decision: Decision) -> None:
        self.store.decisions.append(
            decision.at,
            decision.kind,
            decision.message,
            model=decision.model,
            rule=decision.rule,
            data=decision.data,
        )
        self.metrics.decisions.labels(decision.kind).inc()
