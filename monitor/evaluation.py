"""Rules after every check: evaluate, persist states, guard each proposal, queue jobs, log decisions."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from importlib import resources
from typing import Any

from monitor.config import Config, ModelConfig
from monitor.exporter import DaemonMetrics
from monitor.guard_context import StoreGuardContext
from monitor.measurements import Measurements
from monitor.state.store import StateStore
from reoptimize.registry import FileRegistry
from rules.decisions import Decision, guard_decision
from rules.engine import RuleEngine
from rules.guards import GuardSettings, default_guards, run_guards
from rules.loader import RuleError, RuleSet, load_rule_files, parse_rules
from rules.proposal import Proposal
from rules.schema import Action
from rules.state_machine import RuleState

log = logging.getLogger("modelhealthd.rules")


class RulesLoadError(Exception):
    """The rule files cannot be used; the daemon does not start with them."""


def load_ruleset(config: Config) -> RuleSet:
    """The config's rule files, or the packaged default rules when it names none."""
    try:
        if config.rules:
            return load_rule_files(config.rules)
        text = resources.files("rules").joinpath("default_rules.yaml").read_text()
        return parse_rules(text, "rules/default_rules.yaml")
    except RuleError as exc:
        raise RulesLoadError(str(exc)) from None


class RuleRunner:
    def __init__(
        self,
        ruleset: RuleSet,
        config: Config,
        store: StateStore,
        registry: FileRegistry,
        metrics: DaemonMetrics,
        clock: Callable[[], float],
        settings: GuardSettings | None = None,
        watching: Callable[[str], bool] = lambda _model: False,
    ):
        self.engine = RuleEngine(ruleset)
        self.config = config
        self.store = store
        self.registry = registry
        self.metrics = metrics
        self.clock = clock
        self.context = StoreGuardContext(store, watching)
        self.guards = default_guards(settings or GuardSettings(concurrency=config.jobs.concurrency))
        self.lock = threading.Lock()  # guards read then write jobs: one proposal at a time

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

    def after_check(self, model: ModelConfig, m: Measurements) -> None:
        evaluation = self.engine.evaluate(model.name, model.labels, m.values, self._states(model.name), m.at)
        self.store.rule_states.save(model.name, {r: s.to_json() for r, s in evaluation.states.items()}, m.at)
        self.metrics.set_rule_states(model.name, {r: s.state for r, s in evaluation.states.items()})
        for decision in evaluation.decisions:
            self.record(decision)
            log.info(decision.message, extra={"model": model.name, "rule": decision.rule})
        states = evaluation.states
        for proposal in evaluation.proposals:
            self.submit(proposal, condition_since=states[proposal.rule].active_since)

    def submit(self, proposal: Proposal, condition_since: float | None = None) -> dict[str, Any]:
        """Pass a proposal through the guards and queue its job when they allow it.

        ``condition_since`` is when the rule's condition became true; the job uses the traffic
        since then as the new version's reference.
        """
        with self.lock:
            outcome = run_guards(proposal, self.guards, self.context, proposal.at)
            dry_run = self.config.dry_run
            self.record(guard_decision(outcome, dry_run))
            model = proposal.model
            self.metrics.set_circuit(model, _breaker_refused(outcome))
            if not outcome.allowed or dry_run or not proposal.starts_job:
                refused = outcome.refused_by
                return {"queued": False, "dry_run": dry_run, "reason": refused.reason if refused else None}
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


def _breaker_refused(outcome) -> bool:  # noqa: ANN001
    refused = outcome.refused_by
    return refused is not None and refused.guard == "circuit_breaker"
